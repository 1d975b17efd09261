import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LanguageModel } from '@traitlens/model-runtime';
import { describe, expect, it } from 'vitest';
import { loadModelForCli, withDefaultLoraScale } from './load-model-for-cli';
import { createProgressDisplay } from './progress-display';
import { modelOptionDefaults } from './shared-options';

const stories = join(import.meta.dirname, '../../../../shared/models/stories260k/hf');

describe('withDefaultLoraScale', () => {
  const calls: Array<{ method: string; options: unknown }> = [];
  const record =
    (method: string) =>
    async (_inputs: unknown, options?: unknown): Promise<never[]> => {
      calls.push({ method, options });
      return [];
    };
  const model = {
    id: 'fake',
    forward: record('forward'),
    score: record('score'),
    generate: record('generate'),
    dispose: async () => {},
  } as unknown as LanguageModel;

  it('gives every call without its own scale the --lora-scale, and leaves explicit scales alone', async () => {
    const scaled = withDefaultLoraScale(model, 0.5);
    await scaled.generate(['x'], { maxNewTokens: 2 });
    await scaled.forward(['x']);
    await scaled.score(['x'], { loraScale: 0 });
    expect(scaled.id).toBe('fake');
    expect(calls).toEqual([
      { method: 'generate', options: { maxNewTokens: 2, loraScale: 0.5 } },
      { method: 'forward', options: { loraScale: 0.5 } },
      { method: 'score', options: { loraScale: 0 } },
    ]);
    expect(withDefaultLoraScale(model, 1)).toBe(model);
  });
});

describe.skipIf(!existsSync(join(stories, 'model.safetensors')))('loadModelForCli', () => {
  it('reports weight conversion as plain progress lines when stderr is not a terminal', async () => {
    const lines: string[] = [];
    const display = createProgressDisplay({
      stream: { write: (text: string) => lines.push(...text.split('\n').filter(Boolean)), isTTY: false },
      intervalMs: 1,
      quietMs: 0,
    });
    const model = await loadModelForCli(
      { model: stories, ...modelOptionDefaults, threads: 1 },
      // A fresh graph cache, so the weights are converted (and reported) in this test.
      { display, extra: { cacheDirectory: await mkdtemp(join(tmpdir(), 'traitlens-cli-load-')) } },
    );
    display.stop();
    await model.dispose();
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((line) => line.startsWith('converting weights: '))).toBe(true);
    expect(lines.at(-1)).toMatch(/^converting weights: (\d+)\/\1 tensors \(100%\), \d+s elapsed/);
  });
});
