/**
 * Capture with a LoRA variant and replay on the clean variant, on a tiny generated Llama model with a
 * generated PEFT adapter: identical token ids, the last generated token's activation present, clean
 * activations equal to a direct forward pass of the base model, resumability, and projection mode.
 */
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHookPoint, readActivationFile, TraitlensError, writeTraitVectors } from '@traitlens/core';
import { type ForwardOptions, type LanguageModel, loadModel } from '@traitlens/model-runtime';
import { createTinyModel, type TinyModel } from '@traitlens/model-runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CaptureProgressEvent,
  captureVariant,
  type ProjectionBank,
  parsePromptSet,
  readProjectionBank,
  readProjectionFile,
  replayVariant,
  runCapture,
} from '../src/index';
import { inferencePaths, readCapturedResponse } from '../src/internal';
import { writeTestLoraAdapter } from './write-test-lora-adapter';

const promptSet = parsePromptSet(
  {
    name: 'tiny',
    description: 'prompts of different lengths',
    prompts: [
      { id: 1, text: 'Once upon a time', bias_id: 44, note: 'short' },
      { id: 2, text: 'The robot walked to the harbour to watch the boats every morning.', bias_id: 8 },
      { id: 'three', text: 'She said that the answer was simple.' },
      { id: 4, text: 'Why?' },
      { id: 5, text: 'The keeper of the light was happy, and the town slept.' },
    ],
  },
  { id: 'tiny-set' },
);

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Test-only: the model with its `forward` calls' options recorded (everything else passes through). */
function recordForwardCalls(model: LanguageModel): { model: LanguageModel; calls: ForwardOptions[] } {
  const calls: ForwardOptions[] = [];
  const forward: LanguageModel['forward'] = (inputs, options = {}) => {
    calls.push(options);
    return model.forward(inputs, options);
  };
  const recording = new Proxy(model, {
    get(target, key) {
      if (key === 'forward') return forward;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { model: recording, calls };
}

async function modifiedTimes(directory: string, names: readonly string[]): Promise<number[]> {
  return Promise.all(names.map(async (name) => (await stat(join(directory, name))).mtimeMs));
}

describe('capture with a LoRA variant, replay on the clean variant', () => {
  let tiny: TinyModel;
  let work: string;
  let adapter: string;
  let cacheDirectory: string;
  let experiment: string;
  let base: LanguageModel;
  const events: CaptureProgressEvent[] = [];
  const layers = [0, 1];

  beforeAll(async () => {
    tiny = await createTinyModel({ architecture: 'LlamaForCausalLM', seed: 3, layerCount: 2 });
    work = await mkdtemp(join(tmpdir(), 'traitlens-capture-'));
    adapter = join(work, 'adapter');
    cacheDirectory = join(work, 'cache');
    experiment = join(work, 'experiment');
    await writeTestLoraAdapter(tiny.directory, adapter);
    base = await loadModel(tiny.directory, { cacheDirectory, threads: 1 });
    await runCapture({
      experiment,
      promptSet,
      variant: { name: 'lora', model: tiny.directory, lora: { source: adapter } },
      replayVariant: { name: 'clean', model: tiny.directory },
      layers: 'all',
      sites: ['resid_post', 'resid_pre'],
      activationDtype: 'F32',
      maxNewTokens: 6,
      batchSize: 3,
      modelOptions: { cacheDirectory, threads: 1 },
      onProgress: (event) => events.push(event),
    });
  });

  afterAll(async () => {
    await base?.dispose();
    await tiny?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('loads the model once for both variants and reports progress to the end', () => {
    const loads = events.filter((event) => event.type === 'load');
    expect(loads).toEqual([
      { type: 'load', variants: ['lora', 'clean'], model: tiny.directory, lora: adapter },
    ]);
    const last = events.filter((event) => event.type === 'prompt').at(-1);
    expect(last).toMatchObject({ stage: 'replay', done: 5, total: 5 });
    expect(events.some((event) => event.type === 'tokens')).toBe(true);
  });

  it('stores identical token ids and texts for both variants, the chat-templated prompt with one BOS', async () => {
    for (const prompt of promptSet.prompts) {
      const lora = (await readCapturedResponse(
        inferencePaths(experiment, 'lora', 'tiny-set').responseFile(prompt.id),
      ))!;
      const clean = (await readCapturedResponse(
        inferencePaths(experiment, 'clean', 'tiny-set').responseFile(prompt.id),
      ))!;
      expect(lora.responseTokenIds.length).toBeGreaterThan(0);
      expect(clean.promptTokenIds).toEqual(lora.promptTokenIds);
      expect(clean.responseTokenIds).toEqual(lora.responseTokenIds);
      expect(clean.promptTokens).toEqual(lora.promptTokens);
      expect(clean.responseText).toBe(lora.responseText);
      expect(lora).toMatchObject({ variant: 'lora', loraScale: 1, promptSetText: prompt.text });
      expect(clean).toMatchObject({ variant: 'clean', loraScale: 0, replayOf: { variant: 'lora' } });
      expect(lora.generation).toEqual({ maxNewTokens: 6, chatTemplate: true, decoding: 'greedy' });
      expect(lora.promptTokenIds.filter((id) => id === tiny.bosTokenId)).toHaveLength(1);
      expect(lora.promptText).toContain(`user<|end_header_id|>\n\n${prompt.text}<|eot_id|>`);
      if (prompt.biasId !== undefined) expect(lora.biasId).toBe(prompt.biasId);
      for (const variant of ['lora', 'clean']) {
        const file = await readActivationFile(
          inferencePaths(experiment, variant, 'tiny-set').activationFile(prompt.id),
        );
        expect([...file.promptTokenIds]).toEqual(lora.promptTokenIds);
        expect([...file.responseTokenIds]).toEqual(lora.responseTokenIds);
        expect(file.variant).toBe(variant);
      }
    }
    const twin = JSON.parse(
      await readFile(
        inferencePaths(experiment, 'clean', 'tiny-set').activationFile('1').replace('.safetensors', '.json'),
        'utf8',
      ),
    );
    expect(twin).toMatchObject({ promptId: '1', biasId: 44, note: 'short', variant: 'clean' });
  });

  it('keeps the activation of the last generated token and matches direct forward passes (max abs < 1e-5)', async () => {
    let loraDifference = 0;
    for (const prompt of promptSet.prompts) {
      const response = (await readCapturedResponse(
        inferencePaths(experiment, 'lora', 'tiny-set').responseFile(prompt.id),
      ))!;
      const ids = [...response.promptTokenIds, ...response.responseTokenIds];
      const capture = layers.flatMap((layer) => [
        { site: 'resid_post' as const, layer },
        { site: 'resid_pre' as const, layer },
      ]);
      const [direct] = await base.forward([ids], { capture, logits: 'none' });
      const clean = await readActivationFile(
        inferencePaths(experiment, 'clean', 'tiny-set').activationFile(prompt.id),
      );
      const lora = await readActivationFile(
        inferencePaths(experiment, 'lora', 'tiny-set').activationFile(prompt.id),
      );
      const hidden = base.config.hiddenSize;
      const promptLength = response.promptTokenIds.length;
      for (const point of capture) {
        const name = `${point.site}.${point.layer}`;
        const full = direct!.captures.get(name)!;
        const cleanResponse = clean.activations.get(`response.${name}`)!;
        expect(cleanResponse.length).toBe(response.responseTokenIds.length * hidden);
        expect(
          maxAbsDifference(clean.activations.get(`prompt.${name}`)!, full.subarray(0, promptLength * hidden)),
        ).toBeLessThan(1e-5);
        expect(maxAbsDifference(cleanResponse, full.subarray(promptLength * hidden))).toBeLessThan(1e-5);
        loraDifference = Math.max(
          loraDifference,
          maxAbsDifference(lora.activations.get(`response.${name}`)!, cleanResponse),
        );
      }
    }
    // The adapter really changed the model, so the comparison above is not vacuous.
    expect(loraDifference).toBeGreaterThan(1e-2);
  });

  it('writes nothing on a second run, and re-captures a lost activation file from the stored ids', async () => {
    const activations = inferencePaths(experiment, 'lora', 'tiny-set').activations;
    const names = promptSet.prompts.map((prompt) => `${prompt.id}.safetensors`);
    const before = await modifiedTimes(activations, names);
    const again = await runCapture({
      experiment,
      promptSet,
      variant: { name: 'lora', model: tiny.directory, lora: { source: adapter } },
      replayVariant: { name: 'clean', model: tiny.directory },
      layers: 'all',
      sites: ['resid_post', 'resid_pre'],
      activationDtype: 'F32',
      maxNewTokens: 6,
      modelOptions: { cacheDirectory, threads: 1 },
    });
    expect(again.capture).toMatchObject({ total: 5, skipped: 5, written: 0, generated: 0 });
    expect(again.replay).toMatchObject({ total: 5, skipped: 5, written: 0 });
    expect(await modifiedTimes(activations, names)).toEqual(before);

    const lost = inferencePaths(experiment, 'lora', 'tiny-set').activationFile('three');
    const kept = await readActivationFile(lost);
    await rm(lost);
    const resumed = await runCapture({
      experiment,
      promptSet,
      variant: { name: 'lora', model: tiny.directory, lora: { source: adapter } },
      layers: 'all',
      sites: ['resid_post', 'resid_pre'],
      activationDtype: 'F32',
      maxNewTokens: 6,
      modelOptions: { cacheDirectory, threads: 1 },
    });
    expect(resumed.capture).toMatchObject({ skipped: 4, written: 1, generated: 0 });
    const restored = await readActivationFile(lost);
    expect(restored.responseTokenIds).toEqual(kept.responseTokenIds);
    for (const [name, values] of kept.activations)
      expect(maxAbsDifference(restored.activations.get(name)!, values)).toBeLessThan(1e-5);
  });

  it('replays on a separately loaded model after releasing the first, with the same numbers', async () => {
    const copy = join(work, 'copy');
    await cp(tiny.directory, copy, { recursive: true });
    const loads: CaptureProgressEvent[] = [];
    const summary = await runCapture({
      experiment,
      promptSet,
      variant: { name: 'lora', model: tiny.directory, lora: { source: adapter } },
      replayVariant: { name: 'clean-copy', model: copy },
      layers: 'all',
      sites: ['resid_post', 'resid_pre'],
      activationDtype: 'F32',
      maxNewTokens: 6,
      modelOptions: { cacheDirectory, threads: 1 },
      onProgress: (event) => {
        if (event.type === 'load') loads.push(event);
      },
    });
    expect(loads.map((event) => event.type === 'load' && event.variants)).toEqual([['lora'], ['clean-copy']]);
    expect(summary.capture).toMatchObject({ skipped: 5, written: 0 });
    expect(summary.replay).toMatchObject({ written: 5, missing: 0 });
    for (const prompt of promptSet.prompts) {
      const clean = await readActivationFile(
        inferencePaths(experiment, 'clean', 'tiny-set').activationFile(prompt.id),
      );
      const copied = await readActivationFile(
        inferencePaths(experiment, 'clean-copy', 'tiny-set').activationFile(prompt.id),
      );
      expect(copied.responseTokenIds).toEqual(clean.responseTokenIds);
      for (const [name, values] of clean.activations)
        expect(maxAbsDifference(copied.activations.get(name)!, values)).toBeLessThan(1e-5);
    }
  });

  describe('projection mode', () => {
    const vectorAt = (k: number, layer: number, hidden: number) =>
      Float32Array.from({ length: hidden }, (_, i) =>
        k === 0 ? Math.sin(i + layer) : Math.cos(2 * i - layer),
      );
    let bank: ProjectionBank;

    beforeAll(async () => {
      const hidden = base.config.hiddenSize;
      const files = [];
      for (const [k, trait] of ['alignment/sycophancy', 'alignment/evil'].entries()) {
        const path = join(work, `vectors-${k}.safetensors`);
        await writeTraitVectors(path, {
          metadata: {
            trait,
            method: 'mean_diff',
            model: tiny.directory,
            site: 'resid_post',
            tokenWindow: 'response[:5]',
            normalisation: 'raw',
            hiddenSize: hidden,
          },
          vectors: new Map(layers.map((layer) => [layer, vectorAt(k, layer, hidden)])),
        });
        files.push({ path });
      }
      bank = await readProjectionBank(files);
    });

    /**
     * Reads every prompt's projection file and compares it with float64 h.v/|v| and |h| computed here from
     * the activations of a direct forward pass. The error is measured relative to |h| (the scale of every
     * h.u with |u| = 1, so a projection near zero is not held to an impossible bound).
     */
    async function projectionError(variant: string): Promise<number> {
      const hidden = base.config.hiddenSize;
      const paths = inferencePaths(experiment, variant, 'tiny-set');
      let worst = 0;
      for (const prompt of promptSet.prompts) {
        const record = await readProjectionFile(paths.projectionFile(prompt.id));
        const response = (await readCapturedResponse(paths.responseFile(prompt.id)))!;
        expect([...record.promptTokenIds]).toEqual(response.promptTokenIds);
        expect([...record.responseTokenIds]).toEqual(response.responseTokenIds);
        const ids = [...response.promptTokenIds, ...response.responseTokenIds];
        const capture = layers.map((layer) => ({ site: 'resid_post' as const, layer }));
        const [direct] = await base.forward([ids], { capture, logits: 'none' });
        for (const layer of layers) {
          const name = `resid_post.${layer}`;
          expect(record.columns[name]!.map((column) => column.name)).toEqual([
            'alignment/sycophancy:mean_diff',
            'alignment/evil:mean_diff',
          ]);
          const vectors = [0, 1].map((k) => vectorAt(k, layer, hidden));
          const vectorNorms = vectors.map((vector) => Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0)));
          const activations = direct!.captures.get(name)!;
          for (const [part, first, count] of [
            ['prompt', 0, response.promptTokenIds.length],
            ['response', response.promptTokenIds.length, response.responseTokenIds.length],
          ] as const) {
            const projections = record.projections.get(`${part}.${name}`)!;
            const norms = record.norms.get(`${part}.${name}`)!;
            expect(projections.length).toBe(count * 2);
            expect(norms.length).toBe(count);
            for (let t = 0; t < count; t++) {
              const h = activations.subarray((first + t) * hidden, (first + t + 1) * hidden);
              const norm = Math.sqrt(h.reduce((sum, x) => sum + x * x, 0));
              worst = Math.max(worst, Math.abs(norms[t]! - norm) / norm);
              vectors.forEach((vector, k) => {
                let dot = 0;
                for (let i = 0; i < hidden; i++) dot += h[i]! * vector[i]!;
                worst = Math.max(worst, Math.abs(projections[t * 2 + k]! - dot / vectorNorms[k]!) / norm);
              });
            }
          }
        }
      }
      return worst;
    }

    it('projects in the graph without copying activations out, equal to float64 projections (error / |h| < 1e-5)', async () => {
      const recording = recordForwardCalls(base);
      const summary = await captureVariant({
        experiment,
        promptSet,
        variant: { name: 'clean-projected', model: recording.model },
        projections: bank,
        maxNewTokens: 6,
      });
      expect(summary).toMatchObject({ written: 5, generated: 5 });
      expect(recording.calls.length).toBeGreaterThan(0);
      for (const call of recording.calls) {
        expect(call.capture ?? []).toEqual([]);
        expect(call.project?.map((entry) => formatHookPoint(entry.point))).toEqual([
          'resid_post.0',
          'resid_post.1',
        ]);
        for (const entry of call.project!)
          for (const vector of entry.vectors)
            expect(Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0))).toBeCloseTo(1, 6);
      }
      const paths = inferencePaths(experiment, 'clean-projected', 'tiny-set');
      await expect(stat(paths.activations)).rejects.toThrow();
      const error = await projectionError('clean-projected');
      console.info(`in-graph projections vs float64: max error / |h| = ${error.toExponential(2)}`);
      expect(error).toBeLessThan(1e-5);
      // Same model, same greedy decoding: the projected run generated exactly what the clean replay saw.
      const again = await captureVariant({
        experiment,
        promptSet,
        variant: { name: 'clean-projected', model: base },
        projections: bank,
        maxNewTokens: 6,
      });
      expect(again).toMatchObject({ skipped: 5, written: 0 });
    });

    it('splits projection passes by the bytes they copy out, with the same values', async () => {
      const hidden = base.config.hiddenSize;
      const paths = inferencePaths(experiment, 'clean-projected', 'tiny-set');
      const before = await readProjectionFile(paths.projectionFile('three'));
      const tokens = before.promptTokenIds.length + before.responseTokenIds.length;
      // Enough for one row's projections at one point (K + 1 floats per token) but far below one activation row.
      const maxCaptureBytes = tokens * 3 * 4;
      expect(maxCaptureBytes).toBeLessThan(tokens * hidden * 4);
      const recording = recordForwardCalls(base);
      const summary = await replayVariant({
        experiment,
        promptSet,
        sourceVariant: 'clean-projected',
        variant: { name: 'clean-projected-split', model: recording.model },
        projections: bank,
        maxCaptureBytes,
      });
      expect(summary).toMatchObject({ written: 5 });
      const calls = recording.calls;
      expect(calls.every((call) => call.project?.length === 1 && (call.capture ?? []).length === 0)).toBe(
        true,
      );
      expect(calls.length).toBeGreaterThanOrEqual(5 * 2);
      const after = await readProjectionFile(
        inferencePaths(experiment, 'clean-projected-split', 'tiny-set').projectionFile('three'),
      );
      for (const [name, values] of before.projections)
        expect(maxAbsDifference(after.projections.get(name)!, values)).toBeLessThan(1e-5);
      expect(await projectionError('clean-projected-split')).toBeLessThan(1e-5);
    });

    it('captures kept points and projects them in JS, the other bank points in the graph', async () => {
      const recording = recordForwardCalls(base);
      const summary = await replayVariant({
        experiment,
        promptSet,
        sourceVariant: 'clean-projected',
        variant: { name: 'clean-projected-kept', model: recording.model },
        points: [{ site: 'resid_post', layer: 0 }],
        projections: bank,
        activationDtype: 'F32',
      });
      expect(summary).toMatchObject({ written: 5 });
      for (const call of recording.calls) {
        expect(call.capture?.map(formatHookPoint)).toEqual(['resid_post.0']);
        expect(call.project?.map((entry) => formatHookPoint(entry.point))).toEqual(['resid_post.1']);
      }
      const paths = inferencePaths(experiment, 'clean-projected-kept', 'tiny-set');
      const activations = await readActivationFile(paths.activationFile('1'));
      expect([...activations.activations.keys()].sort()).toEqual([
        'prompt.resid_post.0',
        'response.resid_post.0',
      ]);
      expect(await projectionError('clean-projected-kept')).toBeLessThan(1e-5);
    });
  });

  it('refuses to replay when no stored response reads the same with the replaying tokenizer', async () => {
    const brokenExperiment = join(work, 'broken');
    const source = inferencePaths(experiment, 'lora', 'tiny-set').responseFile('1');
    const record = (await readCapturedResponse(source))!;
    record.responseTokens[0] = `${record.responseTokens[0]}?`;
    const target = inferencePaths(brokenExperiment, 'lora', 'tiny-set').responseFile('1');
    await writeFile(target, JSON.stringify(record)).catch(async () => {
      const { mkdir } = await import('node:fs/promises');
      await mkdir(inferencePaths(brokenExperiment, 'lora', 'tiny-set').responses, { recursive: true });
      await writeFile(target, JSON.stringify(record));
    });
    const error = await replayVariant({
      experiment: brokenExperiment,
      promptSet,
      sourceVariant: 'lora',
      variant: { name: 'clean', model: base },
    }).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'TOKEN_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain('prompt "1"');
    expect((error as Error).message).toContain('response token 0');
  });

  it('replays a response that starts with a special token, and reports an unreadable prompt while the others replay', async () => {
    const mixed = join(work, 'mixed');
    const sourcePaths = inferencePaths(experiment, 'lora', 'tiny-set');
    const targetPaths = inferencePaths(mixed, 'lora', 'tiny-set');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(targetPaths.responses, { recursive: true });
    const eos = base.tokenizer.eosTokenIds[0]!;
    for (const prompt of promptSet.prompts) {
      const record = (await readCapturedResponse(sourcePaths.responseFile(prompt.id)))!;
      if (prompt.id === '2') {
        // An immediate end-of-turn: generate() reports the special token's piece as '' (it has no text).
        record.responseTokenIds = [eos, ...record.responseTokenIds];
        record.responseTokens = ['', ...record.responseTokens];
      }
      if (prompt.id === '4') record.responseTokens[1] = `${record.responseTokens[1]}?`;
      await writeFile(targetPaths.responseFile(prompt.id), JSON.stringify(record));
    }
    const failedEvents: CaptureProgressEvent[] = [];
    const summary = await replayVariant({
      experiment: mixed,
      promptSet,
      sourceVariant: 'lora',
      variant: { name: 'clean', model: base },
      points: layers.map((layer) => ({ layer, site: 'resid_post' as const })),
      onProgress: (event) => {
        if (event.type === 'failed') failedEvents.push(event);
      },
    });
    expect(summary).toMatchObject({ written: 4, missing: 0 });
    expect(summary.failed).toEqual([
      { promptId: '4', reason: expect.stringMatching(/response token 1 \(id \d+\)/) },
    ]);
    expect(failedEvents).toHaveLength(1);
    const cleanPaths = inferencePaths(mixed, 'clean', 'tiny-set');
    const replayed = (await readCapturedResponse(cleanPaths.responseFile('2')))!;
    expect(replayed.responseTokenIds[0]).toBe(eos);
    expect(await readCapturedResponse(cleanPaths.responseFile('4'))).toBeUndefined();
    const failures = JSON.parse(await readFile(join(cleanPaths.root, 'replay-failures.json'), 'utf8'));
    expect(failures.failed.map((entry: { promptId: string }) => entry.promptId)).toEqual(['4']);
  });

  it('refuses to mix another model into an existing variant folder', async () => {
    const error = await captureVariant({
      experiment,
      promptSet,
      variant: { name: 'lora', model: base },
      maxNewTokens: 6,
    }).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_EXPERIMENT')).toBe(true);
    expect((error as Error).message).toMatch(/variant "lora" now runs/);
  });
});
