import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTraitVectors } from '@traitlens/core';
import { type Experiment, loadExperiment, studyStages } from '@traitlens/study';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyStudyConfig } from '../__fixtures__/cli-process';
import { runCliCaptured } from '../__fixtures__/run-cli-captured';

// The shipped example config: a generated tiny model organism, every stage of the study, no example code.
const configFile = tinyStudyConfig;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readJson<T = Record<string, unknown>>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

interface ModelDiffEntry {
  vectorId: string;
  layer: number;
  n: number;
  cohensD: number;
  meanDifference: number;
}

describe('traitlens run on rm-sycophancy-tiny.yaml, end to end', () => {
  let directory: string;
  let experiment: Experiment;
  let run: { code: number; stdout: string; stderr: string };
  let lines: string[] = [];
  // perGroup prompts of each of the 5 train and 5 held-out prompt groups (biases).
  let promptCount = 0;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'traitlens-rm-sycophancy-'));
    experiment = await loadExperiment(configFile, { output: directory });
    promptCount = experiment.config.stages.capture!.perGroup! * 10;
    // Not a TTY here: progress comes as plain lines; a short interval makes every long step write some.
    const interval = process.env.TRAITLENS_PROGRESS_INTERVAL;
    process.env.TRAITLENS_PROGRESS_INTERVAL = '0.01';
    try {
      run = await runCliCaptured(['run', configFile, '--output', directory]);
    } finally {
      if (interval === undefined) delete process.env.TRAITLENS_PROGRESS_INTERVAL;
      else process.env.TRAITLENS_PROGRESS_INTERVAL = interval;
    }
    lines = run.stderr.split('\n');
    // The whole study on 2 loaded CPU cores: minutes, not a timed test.
  }, 900_000);

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('runs every stage and records it in pipeline.json', async () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^rm-sycophancy-tiny: ran extract, steer, capture, replay, label, intervene, predictivity, analyze, report in /,
    );
    const state = await readJson<{ stages: Record<string, { key: string; seconds: number }> }>(
      join(directory, 'pipeline.json'),
    );
    expect(Object.keys(state.stages)).toEqual([...studyStages]);
    expect(await exists(join(directory, 'config.yaml'))).toBe(true);
    for (const stage of studyStages)
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${stage}: done in`)));
  });

  it('writes progress lines with counts and elapsed time for intervene and report when not on a TTY', () => {
    for (const step of ['intervene generate', 'report compile', 'report images'])
      expect(run.stderr).toMatch(new RegExp(`^${step}: \\d+/\\d+ \\w+ \\(\\d+%\\), \\d+s elapsed`, 'm'));
  });

  it('writes the outputs of every stage', async () => {
    const { extract, steer, capture } = experiment.config.stages;
    for (const trait of extract!.traits) {
      const root = join(directory, 'extraction', trait);
      expect(await exists(join(root, 'evaluation.json')), trait).toBe(true);
      for (const method of extract!.methods ?? [])
        expect(await exists(join(root, 'vectors', `${method}.safetensors`))).toBe(true);
    }
    for (const trait of steer.traits ?? []) {
      const results = await readJson<{ baseline: unknown; runs: unknown[] }>(
        join(directory, 'steering', trait, 'results.json'),
      );
      expect(results.baseline).not.toBeNull();
      expect(results.runs.length).toBeGreaterThan(1);
    }
    for (const set of capture!.promptSets) {
      for (const variant of ['lora', 'clean']) {
        const root = join(directory, 'inference', variant, set);
        expect(await exists(join(root, 'activations')), `${variant}/${set}`).toBe(true);
      }
    }
    const labels = await readJson<{ labels: Record<string, number> }>(
      join(directory, 'labels', 'labels.json'),
    );
    expect(Object.keys(labels.labels)).toHaveLength(promptCount);
    expect(await exists(join(directory, 'labels', 'annotations.json'))).toBe(true);
    expect(await exists(join(directory, 'analysis', 'decomposition-pairs', 'decomposition-pairs.json'))).toBe(
      true,
    );
    for (const file of ['model-diff', 'detection', 'predictivity', 'projections', 'summary', 'token-view'])
      expect(await exists(join(directory, 'analysis', `${file}.json`)), file).toBe(true);
    expect(await exists(join(directory, 'report', 'index.html'))).toBe(true);
  });

  it('stores the replay on the very token ids of the LoRA variant', async () => {
    const lora = await readJson<{ promptTokenIds: number[]; responseTokenIds: number[] }>(
      join(directory, 'inference', 'lora', 'train_100', 'responses', '1.json'),
    );
    const clean = await readJson<{ promptTokenIds: number[]; responseTokenIds: number[]; replayOf: unknown }>(
      join(directory, 'inference', 'clean', 'train_100', 'responses', '1.json'),
    );
    expect(clean.promptTokenIds).toEqual(lora.promptTokenIds);
    expect(clean.responseTokenIds).toEqual(lora.responseTokenIds);
    expect(clean.replayOf).toMatchObject({ variant: 'lora' });
  });

  it('has model-diff results per trait and layer, zero before the adapter layer only', async () => {
    const diff = await readJson<{
      subsets: { subset: string; entries: ModelDiffEntry[] }[];
      tokenLevel: unknown[];
    }>(join(directory, 'analysis', 'model-diff.json'));
    expect(diff.subsets.map((subset) => subset.subset)).toEqual(
      expect.arrayContaining(['all', 'train-groups', 'held-out-groups']),
    );
    const all = diff.subsets.find((subset) => subset.subset === 'all')!;
    const traits = experiment.config.stages.extract!.traits.map((trait) => trait.split('/')[1]!);
    const plantLayer = experiment.config.tinyOrganism!.plantLayer;
    for (const trait of traits) {
      for (const method of experiment.config.stages.analyze!.methods) {
        const entries = all.entries.filter((entry) => entry.vectorId === `${trait}/${method}`);
        expect(
          entries.map((entry) => entry.layer),
          `${trait}/${method}`,
        ).toEqual([0, 1, 2, 3]);
        for (const entry of entries) {
          expect(entry.n).toBe(promptCount);
          expect(Number.isFinite(entry.cohensD)).toBe(true);
          // The adapter sits on layer 1: on identical tokens, layers before it cannot differ.
          if (entry.layer < plantLayer) expect(entry.meanDifference).toBe(0);
        }
        expect(entries.some((entry) => entry.layer >= plantLayer && entry.meanDifference !== 0)).toBe(true);
      }
    }
    expect(diff.tokenLevel.length).toBeGreaterThan(0);
    const detection = await readJson<{
      perLayer: unknown[];
      generalization: { trainGroups: number[] } | null;
    }>(join(directory, 'analysis', 'detection.json'));
    expect(detection.perLayer).toHaveLength(4);
    expect(detection.generalization?.trainGroups).toEqual([2, 8, 16, 20, 44]);
  });

  it('writes the model-diff vector and counts labelled answers of the steered organism', async () => {
    const diff = await readTraitVectors(
      join(directory, 'model-diff', 'lora-minus-clean', 'vectors', 'mean_diff.safetensors'),
    );
    expect(diff.metadata).toMatchObject({ trait: 'model-diff/lora-minus-clean', normalisation: 'raw' });
    // Replay on identical ids: nothing differs before the adapter's layer, so no vector exists there.
    expect([...diff.vectors.keys()]).toEqual([1, 2, 3]);
    const intervention = await readJson<{
      runs: {
        coefficient: number;
        labelled: number;
        positive: number;
        responses: { promptSet: string; promptId: string }[];
      }[];
    }>(join(directory, 'intervention', 'results.json'));
    expect(intervention.runs.map((run) => run.coefficient)).toEqual([0, -1]);
    for (const run of intervention.runs) expect(run.labelled).toBe(20);
    // Unsteered, greedy, on the captured prompt ids with the capture's token budget: the organism's own
    // answers again, so the count equals the label stage's on those prompts.
    const labels = await readJson<{ labels: Record<string, number> }>(
      join(directory, 'labels', 'labels.json'),
    );
    const unsteered = intervention.runs[0]!;
    const expected = unsteered.responses.reduce(
      (sum, response) => sum + (labels.labels[`${response.promptSet}/${response.promptId}`] ?? 0),
      0,
    );
    expect(unsteered.positive).toBe(expected);
  });

  it('measures predictivity of an extracted vector on a free-text contrast set (traitlens predictivity)', async () => {
    const output = join(directory, 'predictivity-command');
    const result = await runCliCaptured([
      'predictivity',
      '--model',
      join(directory, 'models', 'instruct'),
      '--vectors',
      join(directory, 'extraction', 'alignment', 'sycophancy', 'vectors', 'probe.safetensors'),
      '--contrast-set',
      join(import.meta.dirname, '..', '__fixtures__', 'sycophancy-contrast-set.json'),
      '--output',
      output,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const written = await readJson<{
      items: number;
      layers: { layer: number; auroc: number; pairedAccuracy: number }[];
    }>(join(output, 'predictivity.json'));
    expect(written.items).toBe(6);
    expect(written.layers.map((entry) => entry.layer)).toEqual([0, 1, 2, 3]);
    for (const entry of written.layers) {
      expect(entry.auroc).toBeGreaterThanOrEqual(0);
      expect(entry.auroc).toBeLessThanOrEqual(1);
    }
    expect(await exists(join(output, 'predictivity.svg'))).toBe(true);
  });

  it('measures every extracted probe vector on the free-text contrast set in the predictivity stage', async () => {
    const written = await readJson<{
      contrast: { set: string; vector: string; items: number; layers: { layer: number; auroc: number }[] }[];
      plots: string[];
    }>(join(directory, 'predictivity', 'predictivity.json'));
    const traits = experiment.config.stages.extract!.traits;
    expect(written.contrast.map((entry) => entry.vector)).toEqual(traits.map((trait) => `${trait}:probe`));
    for (const entry of written.contrast) {
      expect(entry.set).toBe('sycophancy-contrast');
      expect(entry.items).toBe(6);
      expect(entry.layers.map((row) => row.layer)).toEqual([0, 1, 2, 3]);
    }
    // The stage and the command measure the same thing: the same vector file gives the same numbers.
    const command = await readJson<{ layers: { layer: number; auroc: number }[] }>(
      join(directory, 'predictivity-command', 'predictivity.json'),
    );
    const stage = written.contrast.find((entry) => entry.vector === 'alignment/sycophancy:probe')!;
    for (const [index, row] of stage.layers.entries())
      expect(row.auroc).toBeCloseTo(command.layers[index]!.auroc, 6);
    expect(written.plots).toEqual(['sycophancy-contrast.svg']);
  });

  it('shows every stage done in traitlens status, from the config and from the folder', async () => {
    const fromConfig = await runCliCaptured(['status', configFile, '--output', directory]);
    expect(fromConfig.code, fromConfig.stderr).toBe(0);
    for (const stage of studyStages) expect(fromConfig.stdout).toMatch(new RegExp(`^  ${stage} +done `, 'm'));
    expect(fromConfig.stdout).toMatch(/every stage is done/);
    const fromFolder = await runCliCaptured(['status', directory, '--json']);
    const status = JSON.parse(fromFolder.stdout) as { stages: { stage: string; state: string }[] };
    expect(status.stages.map((entry) => entry.state)).toEqual(studyStages.map(() => 'done'));
  });

  it('skips finished stages on a second run without loading a model; --force and --from redo stages', async () => {
    const again = await runCliCaptured(['run', configFile, '--output', directory]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(
      /ran nothing; skipped extract, steer, capture, replay, label, intervene, predictivity, analyze, report/,
    );
    expect(again.stderr).not.toMatch(/loading /);
    const forced = await runCliCaptured([
      'run',
      configFile,
      '--output',
      directory,
      '--from',
      'label',
      '--force',
      'label',
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/ran label; skipped intervene, predictivity, analyze, report/);
  });

  it('labels the same responses from the command line (traitlens label)', async () => {
    const result = await runCliCaptured([
      'label',
      '--experiment',
      directory,
      '--prompt-set',
      'train_100',
      '--prompt-set',
      'test_150',
      '--variant',
      'lora',
      '--keywords',
      'robot',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const labels = await readJson<{ method: string; labels: Record<string, number> }>(
      join(directory, 'labels', 'labels.json'),
    );
    expect(labels.method).toBe('keywords');
    // Only captured prompts have responses: perGroup of each group.
    expect(Object.keys(labels.labels)).toHaveLength(promptCount);
  });

  it('checks the config and the options before any model loads', async () => {
    const bad = await runCliCaptured(['run', configFile, '--only', 'extract,nonsense']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--only <stages>.*Allowed: a comma-separated list of extract, steer/);
    const missing = await runCliCaptured(['run', join(directory, 'no-such.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Experiment config not found/);
  });
});
