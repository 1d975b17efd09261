/**
 * Shards of one capture and the model identity check: two shards that load the same weights from
 * different folders (as on two machines) fill one experiment folder and resume each other's work; a
 * model with other weights under the same variant name is refused.
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUnitInShard, TraitlensError } from '@traitlens/core';
import { createTinyModel, type TinyModel } from '@traitlens/model-runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePromptSet, type RunCaptureOptions, runCapture } from '../src/index';
import { inferencePaths } from '../src/internal';
import { writeTestLoraAdapter } from './write-test-lora-adapter';

const promptSet = parsePromptSet(
  {
    name: 'shards',
    prompts: Array.from({ length: 8 }, (_, index) => ({ id: `p${index}`, text: `Story number ${index}:` })),
  },
  { id: 'shard-set' },
);

describe('capture shards and model identity by content', () => {
  let tiny: TinyModel;
  let other: TinyModel;
  let work: string;
  const settings = (overrides: Partial<RunCaptureOptions>): RunCaptureOptions => ({
    experiment: join(work, 'experiment'),
    promptSet,
    variant: { name: 'lora', model: tiny.directory, lora: { source: join(work, 'adapter') } },
    replayVariant: { name: 'clean', model: tiny.directory },
    layers: 'all',
    maxNewTokens: 4,
    modelOptions: { cacheDirectory: join(work, 'cache'), threads: 1 },
    ...overrides,
  });

  beforeAll(async () => {
    tiny = await createTinyModel({ architecture: 'LlamaForCausalLM', seed: 5, layerCount: 2 });
    other = await createTinyModel({ architecture: 'LlamaForCausalLM', seed: 6, layerCount: 2 });
    work = await mkdtemp(join(tmpdir(), 'traitlens-capture-shards-'));
    await writeTestLoraAdapter(tiny.directory, join(work, 'adapter'));
    await cp(tiny.directory, join(work, 'machine-b', 'model'), { recursive: true });
    await cp(join(work, 'adapter'), join(work, 'machine-b', 'adapter'), { recursive: true });
  });

  afterAll(async () => {
    await tiny?.remove();
    await other?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("shard 0 writes only its prompts; shard 1 from another folder finishes the set and skips shard 0's", async () => {
    const first = await runCapture(settings({ shard: { index: 0, count: 2 } }));
    const own = promptSet.prompts.filter((prompt) =>
      isUnitInShard(`shard-set/${prompt.id}`, { index: 0, count: 2 }),
    );
    expect(own.length).toBeGreaterThan(0);
    expect(own.length).toBeLessThan(promptSet.prompts.length);
    expect(first.promptSet.prompts).toBe(own.length);
    expect(first.shard).toEqual({ index: 0, count: 2 });
    const paths = inferencePaths(join(work, 'experiment'), 'clean', 'shard-set');
    expect((await readdir(paths.activations)).filter((name) => name.endsWith('.safetensors')).sort()).toEqual(
      own.map((prompt) => `${prompt.id}.safetensors`).sort(),
    );

    // The whole set from a copy of the model and the adapter at other paths: shard 0's prompts are kept.
    const copy = join(work, 'machine-b');
    const whole = await runCapture(
      settings({
        variant: { name: 'lora', model: join(copy, 'model'), lora: { source: join(copy, 'adapter') } },
        replayVariant: { name: 'clean', model: join(copy, 'model') },
      }),
    );
    expect(whole.capture).toMatchObject({ total: 8, skipped: own.length, generated: 8 - own.length });
    expect(whole.replay).toMatchObject({ total: 8, skipped: own.length, written: 8 - own.length });
  });

  it('a shard that holds no prompt of the set captures and replays nothing, without an error', async () => {
    const one = parsePromptSet({ name: 'one', prompts: [{ id: 'only', text: 'Story:' }] }, { id: 'one-set' });
    const empty = [0, 1].find((index) => !isUnitInShard('one-set/only', { index, count: 2 }))!;
    const events: string[] = [];
    const summary = await runCapture({
      ...settings({
        promptSet: one,
        experiment: join(work, 'empty-shard'),
        shard: { index: empty, count: 2 },
      }),
      onProgress: (event) => events.push(event.type),
    });
    // No model load: a shard with nothing to do costs nothing.
    expect(events).toEqual([]);
    expect(summary.promptSet.prompts).toBe(0);
    expect(summary.capture).toMatchObject({ total: 0, written: 0 });
    expect(summary.replay).toMatchObject({ total: 0, written: 0, missing: 0 });
  });

  it('refuses other weights under the same variant name (INVALID_EXPERIMENT)', async () => {
    const options = settings({ variant: { name: 'clean', model: other.directory } });
    delete options.replayVariant;
    const error = await runCapture(options).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_EXPERIMENT')).toBe(true);
    expect((error as Error).message).toMatch(/was made by .* \(sha256:[0-9a-f]{64}\)/);
  });
});
