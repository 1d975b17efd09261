import { existsSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const stories = resolve(import.meta.dirname, '../../../../shared/models/stories260k/hf/model.safetensors');

describe.skipIf(!existsSync(stories))('the quick-start demo (README: pnpm demo)', () => {
  it('runs every stage on stories260k and the model diff finds the planted trait at its layer', async () => {
    process.env.TRAITLENS_DEMO_EXPERIMENT = mkdtempSync(join(tmpdir(), 'traitlens-demo-'));
    process.env.TRAITLENS_CACHE ??= mkdtempSync(join(tmpdir(), 'traitlens-demo-cache-'));
    const { runDemo } = await import('./run-demo');
    const { experiment, report } = await runDemo();
    expect(existsSync(join(experiment, 'extraction/tinystories/happiness/evaluation.json'))).toBe(true);
    expect(existsSync(join(experiment, 'extraction/tinystories/happiness/vectors/probe.safetensors'))).toBe(
      true,
    );
    expect(existsSync(join(experiment, 'steering/happiness/results.json'))).toBe(true);
    expect(existsSync(join(experiment, 'inference/lora/tinystories-demo/activations/1.safetensors'))).toBe(
      true,
    );
    expect(existsSync(join(experiment, 'inference/clean/tinystories-demo/activations/1.safetensors'))).toBe(
      true,
    );
    expect(existsSync(report)).toBe(true);
    const summary = JSON.parse(await readFile(join(experiment, 'analysis/summary.json'), 'utf8')) as {
      highlights: {
        modelDiff: Array<{ vectorId: string; peakLayer: number; cohensD: number; randomMaxAbsD: number }>;
      };
    };
    const top = summary.highlights.modelDiff[0]!;
    // The toy LoRA pushes layer 2 along the happiness direction: the strongest shift must be happiness,
    // at layer 2, and larger than any random direction's.
    expect(top.vectorId.startsWith('happiness/')).toBe(true);
    expect(top.peakLayer).toBe(2);
    expect(Math.abs(top.cohensD)).toBeGreaterThan(top.randomMaxAbsD);
  });
});
