/**
 * End to end on the real tiny model ../shared/models/stories260k with datasets/inference/tinystories-demo:
 * capture with a generated LoRA adapter, replay on the clean model, and a plain capture whose text must
 * equal the runtime's own greedy generation. Skips, saying so, when the shared folder is absent.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readActivationFile } from '@traitlens/core';
import { loadModel } from '@traitlens/model-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePromptSet, runCapture } from '../src/index';
import { inferencePaths, readCapturedResponse } from '../src/internal';
import { writeTestLoraAdapter } from './write-test-lora-adapter';

const stories260k = join(import.meta.dirname, '../../../../shared/models/stories260k/hf');
const hasStories260k = existsSync(join(stories260k, 'model.safetensors'));
if (!hasStories260k) console.warn(`skipping stories260k capture tests: ${stories260k} is absent`);
const promptSetDirectories = [join(import.meta.dirname, '../../../datasets/inference')];

describe.skipIf(!hasStories260k)('capture on stories260k with tinystories-demo', () => {
  let work: string;
  let experiment: string;
  let cacheDirectory: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'traitlens-capture-stories-'));
    experiment = join(work, 'experiment');
    cacheDirectory = join(work, 'cache');
    await writeTestLoraAdapter(stories260k, join(work, 'adapter'), { magnitude: 0.3 });
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('captures 20 prompts with the LoRA variant and replays them on the clean model', async () => {
    const started = performance.now();
    const summary = await runCapture({
      experiment,
      promptSet: 'tinystories-demo',
      promptSetDirectories,
      variant: { name: 'lora', model: stories260k, lora: { source: join(work, 'adapter') } },
      replayVariant: { name: 'clean', model: stories260k },
      maxNewTokens: 32,
      modelOptions: { cacheDirectory, threads: 1 },
    });
    const seconds = (performance.now() - started) / 1000;
    console.info(
      `stories260k capture + replay of 20 prompts x 32 new tokens, 5 layers resid_post f16: ${seconds.toFixed(2)} s (${summary.capture.generatedTokens} tokens generated)`,
    );
    expect(summary.capture).toMatchObject({ total: 20, written: 20, generated: 20, skipped: 0 });
    expect(summary.replay).toMatchObject({ total: 20, written: 20, missing: 0 });
    const lora = inferencePaths(experiment, 'lora', 'tinystories-demo');
    const clean = inferencePaths(experiment, 'clean', 'tinystories-demo');
    expect((await readdir(clean.activations)).filter((name) => name.endsWith('.safetensors'))).toHaveLength(
      20,
    );
    for (let id = 1; id <= 20; id++) {
      const a = (await readCapturedResponse(clean.responseFile(String(id))))!;
      const b = (await readCapturedResponse(lora.responseFile(String(id))))!;
      expect(a.promptTokenIds).toEqual(b.promptTokenIds);
      expect(a.responseTokenIds).toEqual(b.responseTokenIds);
      expect(b.promptTokenIds[0]).toBe(1);
      expect(b.generation.chatTemplate).toBe(false);
      const file = await readActivationFile(clean.activationFile(String(id)));
      expect(file.dtype).toBe('F16');
      for (let layer = 0; layer < 5; layer++)
        expect(file.activations.get(`response.resid_post.${layer}`)!.length).toBe(
          b.responseTokenIds.length * 64,
        );
    }
  });

  it("writes the runtime's own greedy text for a plain variant", async () => {
    const set = await resolvePromptSet('tinystories-demo', { directories: promptSetDirectories });
    await runCapture({
      experiment,
      promptSet: set,
      limit: 4,
      variant: { name: 'base', model: stories260k },
      layers: '4',
      maxNewTokens: 40,
      modelOptions: { cacheDirectory, threads: 1 },
    });
    const model = await loadModel(stories260k, { cacheDirectory, threads: 1 });
    try {
      const direct = await model.generate(
        set.prompts.slice(0, 4).map((prompt) => prompt.text),
        { maxNewTokens: 40 },
      );
      for (let index = 0; index < 4; index++) {
        const stored = (await readCapturedResponse(
          inferencePaths(experiment, 'base', 'tinystories-demo').responseFile(String(index + 1)),
        ))!;
        expect(stored.responseTokenIds).toEqual(direct[index]!.responseTokenIds);
        expect(stored.responseText).toBe(direct[index]!.responseText);
        expect(stored.responseTokens.join('')).toBe(stored.responseText);
      }
      console.info(`stories260k, prompt 1: ${set.prompts[0]!.text}|${direct[0]!.responseText}`);
    } finally {
      await model.dispose();
    }
  });
});
