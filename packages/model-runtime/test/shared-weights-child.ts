/**
 * One configuration of shared-weights.test.ts in a fresh process (started with --expose-gc), so the
 * memory of one configuration never mixes with another's: loads the model, runs a plain forward pass,
 * reads the anonymous memory, runs a capture and a steering plan twice, reads it again, and prints the
 * growth and the outputs as one JSON line.
 */
import { readFileSync } from 'node:fs';
import { loadModel } from '../src/index';

const [directory, cacheDirectory, dtype, share] = process.argv.slice(2) as [
  string,
  string,
  'fp32' | 'int8',
  string,
];
const collectGarbage = (globalThis as { gc?: () => void }).gc;

function anonymousBytes(): number {
  collectGarbage?.();
  const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
  return Number(/^Anonymous:\s+(\d+)/m.exec(rollup)![1]) * 1024;
}

const model = await loadModel(directory, {
  dtype,
  cacheDirectory,
  shareWeights: share === 'shared',
  threads: 1,
});
const prompt = [[3, 17, 42, 99, 7, 250, 31, 64]];
const point = { layer: 1, site: 'resid_post' as const };
const vector = new Float32Array(model.config.hiddenSize).fill(0.05);
const plans = [
  { capture: [point, { layer: 0, site: 'mlp_out' as const }] },
  { steer: [{ point, mode: 'add' as const, vector, coefficient: 2, positions: 'all' as const }] },
];
const [first] = await model.forward(prompt, { logits: 'last' });
const before = anonymousBytes();
const logits: number[][] = [Array.from(first!.logits)];
const captures: number[][] = [];
for (let round = 0; round < 2; round++)
  for (const plan of plans) {
    const [row] = await model.forward(prompt, { ...plan, logits: 'last' });
    if (round > 0) continue;
    logits.push(Array.from(row!.logits));
    for (const values of row!.captures.values()) captures.push(Array.from(values));
  }
const growth = anonymousBytes() - before;
await model.dispose();
process.stdout.write(`${JSON.stringify({ growth, logits, captures })}\n`);
