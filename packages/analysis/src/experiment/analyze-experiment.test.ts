import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCaptureProjectionFiles, writeSyntheticExperiment } from '../../test/synthetic-experiment';
import type { DetectionResult } from '../detection/run-detection';
import type { ModelDiffResult } from '../diff/compute-model-diff';
import type { PredictivitySet } from '../predictivity/measure-predictivity';
import type { TokenDeltaStatistics } from '../projections/project-activation-files';
import { analyzeExperiment } from './analyze-experiment';
import type { AnalysisSummary } from './build-analysis-summary';

let root: string;
let summary: AnalysisSummary;

async function readJson<T>(name: string): Promise<T> {
  return JSON.parse(await readFile(join(root, 'analysis', name), 'utf8')) as T;
}

// Synthetic data (test/synthetic-experiment.ts): 80 prompts x 16 response tokens, hidden 64, 6 layers.
// B = A + N(0, 0.3^2) noise; on the 40 label-1 prompts B also gets 0.8 x the planted unit direction at
// layer 3 on tokens [4, 12). Along the direction, per-token noise is N(0, 1), so per-response means have
// sd0 = 1/sqrt(16) and B's label-1 shift is 0.8 x 8/16 = 1.6 sd0: expected unpaired d = 1.6/sqrt(1.045)
// = 1.57 (cosines scale numerator and sd alike), expected AUROC = Phi(1.57/sqrt(2)) = 0.87.
const expectedD = 1.57;
const expectedAuroc = 0.87;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'traitlens-analysis-'));
  await writeSyntheticExperiment({ root, hiddenSize: 64 });
  summary = await analyzeExperiment({
    experiment: root,
    variantA: 'clean',
    variantB: 'lora',
    promptSets: ['synthetic'],
    annotationsFile: join(root, 'annotations.json'),
    promptFiles: [join(root, 'prompt-set.json')],
    randomBaselines: 4,
    bootstrapResamples: 400,
    permutations: 30,
  });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('analyzeExperiment on a planted shift', () => {
  it('summarises the run and names the planted trait first', () => {
    expect(summary.prompts).toMatchObject({
      analysed: 80,
      paired: 80,
      onlyInA: 0,
      onlyInB: 0,
      labelled: 80,
      positives: 40,
      annotated: 80,
      grouped: 80,
    });
    expect(summary.projection).toMatchObject({
      site: 'resid_post',
      measure: 'cosine',
      aggregation: 'mean',
      layers: [0, 1, 2, 3, 4, 5],
      hiddenSize: 64,
    });
    expect(summary.vectors.filter((v) => v.isRandomBaseline)).toHaveLength(4);
    // Only the planted trait is a finding: it survives Holm and beats 1,000 random directions.
    expect(summary.highlights.modelDiff.map((peak) => peak.vectorId)).toEqual(['planted/mean_diff']);
    expect(summary.highlights.modelDiff[0]).toMatchObject({
      peakLayer: 3,
      primaryTest: 'paired-t',
      finding: true,
      reason: null,
    });
    expect(summary.highlights.modelDiff[0]!.pHolm).toBeLessThan(1e-6);
    expect(summary.highlights.modelDiff[0]!.traitRandomNullP).toBeCloseTo(1 / 1001, 10);
    expect(summary.highlights.notDistinguishable.map((peak) => peak.vectorId)).toEqual(['control/mean_diff']);
    expect(summary.highlights.notDistinguishable[0]!.reason).toMatch(/^not distinguishable from chance: /);
    expect(summary.statistics).toMatchObject({ alpha: 0.05, familySize: 12 });
    expect(summary.statistics.randomNull).toMatchObject({
      source: 'random-directions',
      directions: 1000,
      statistic: 'cohensD',
    });
    expect(summary.verdict.map((row) => [row.id, row.status])).toEqual([
      ['traits-differ', 'fail'],
      ['label-correlation', 'pass'],
      ['classifier-accuracy', 'pass'],
      ['held-out-generalisation', 'pass'],
    ]);
    expect(Object.keys(summary.files).sort()).toEqual([
      'detection',
      'modelDiff',
      'predictivity',
      'projections',
      'summary',
      'tokenView',
      'vectorConsistency',
    ]);
  });

  it('model diff: the planted trait peaks at layer 3 with d in the expected range; the control stays at chance', async () => {
    const diff = await readJson<{
      subsets: ModelDiffResult[];
      tokenLevel: TokenDeltaStatistics[];
      trainGroups: number[];
    }>('model-diff.json');
    expect(diff.subsets.map((s) => s.subset)).toEqual([
      'all',
      'label=1',
      'label=0',
      'train-groups',
      'held-out-groups',
    ]);
    expect(diff.trainGroups).toEqual([8, 44]);
    const positives = diff.subsets.find((s) => s.subset === 'label=1')!;
    const planted = positives.peaks.find((p) => p.vectorId === 'planted/mean_diff')!;
    expect(planted.peakLayer).toBe(3);
    expect(planted.cohensD).toBeGreaterThan(expectedD - 0.45);
    expect(planted.cohensD).toBeLessThan(expectedD + 0.45);
    expect(planted.cohensDInterval[0]).toBeLessThan(expectedD);
    expect(planted.cohensDInterval[1]).toBeGreaterThan(expectedD);
    expect(planted.p).toBeLessThan(1e-6);
    expect(planted.meanActivationCosine).toBeGreaterThan(0.9);
    for (const subset of diff.subsets) {
      const control = subset.entries.filter((e) => e.vectorId === 'control/mean_diff');
      for (const entry of control) expect(Math.abs(entry.cohensD)).toBeLessThan(0.5);
      const controlAtPlantedLayer = control.find((e) => e.layer === 3)!;
      expect(Math.abs(controlAtPlantedLayer.meanActivationCosine!)).toBeLessThan(0.3);
    }
    const all = diff.subsets.find((s) => s.subset === 'all')!;
    const controlAll = all.entries.find((e) => e.vectorId === 'control/mean_diff' && e.layer === 3)!;
    expect(controlAll.cohensDInterval[0]).toBeLessThan(0);
    expect(controlAll.cohensDInterval[1]).toBeGreaterThan(0);
    // Without a shift elsewhere, the planted trait is at chance at other layers too.
    for (const entry of all.entries.filter((e) => e.vectorId === 'planted/mean_diff' && e.layer !== 3))
      expect(Math.abs(entry.cohensD)).toBeLessThan(0.5);
  });

  it('token level: the planted delta sits on the exploit span (specificity), the control has none', async () => {
    const { tokenLevel } = await readJson<{ tokenLevel: TokenDeltaStatistics[] }>('model-diff.json');
    const planted = tokenLevel.find((t) => t.vectorId === 'planted/mean_diff' && t.layer === 3)!;
    const control = tokenLevel.find((t) => t.vectorId === 'control/mean_diff' && t.layer === 3)!;
    expect(planted.tokens).toBe(80 * 16);
    expect(planted.specificity!.insideTokens).toBe(40 * 8);
    // 0.8 / |h| with |h| ~ sqrt(64 * 1.09 + 1.5^2) ~ 8.5: about 0.094.
    expect(planted.specificity!.specificity).toBeGreaterThan(0.06);
    expect(planted.specificity!.specificity).toBeLessThan(0.13);
    expect(Math.abs(control.specificity!.specificity)).toBeLessThan(0.02);
  });

  it('detection: layer 3, AUROC in range, beats random vectors and permuted labels, generalises to held-out biases', async () => {
    const detection = await readJson<DetectionResult>('detection.json');
    // Every bias holds both labels and there are 4 biases: leave-one-bias-out, layer chosen inside the folds.
    expect(detection).toMatchObject({ labelledPrompts: 80, positives: 40, negatives: 40, folds: 4 });
    expect(detection.validation).toEqual({
      scheme: 'leave-one-group-out',
      folds: 4,
      groups: 4,
      innerFolds: 3,
    });
    expect(detection.best!.selectedLayers).toEqual([3, 3, 3, 3]);
    expect(detection.best!.cvAurocInterval[0]).toBeGreaterThan(0.5);
    expect(detection.best!.cvAurocInterval[1]).toBeGreaterThan(detection.best!.cvAuroc);
    expect(detection.permutation!.scheme).toBe('within-group');
    expect(detection.best!.randomCvAuroc).toBeLessThan(0.7);
    expect(detection.best!.layer).toBe(3);
    expect(detection.best!.cvAuroc).toBeGreaterThan(expectedAuroc - 0.1);
    expect(detection.best!.cvAuroc).toBeLessThan(expectedAuroc + 0.1);
    const layer3 = detection.perLayer.find((row) => row.layer === 3)!;
    expect(layer3.randomCvAuroc).toBeLessThan(detection.best!.cvAuroc - 0.1);
    expect(detection.permutation!.pValue).toBeLessThanOrEqual(1 / 31 + 1e-12);
    expect(detection.permutation!.null95).toBeLessThan(0.75);
    const univariate = (id: string) => detection.univariate.find((u) => u.vectorId === id && u.layer === 3)!;
    expect(univariate('planted/mean_diff').auroc).toBeGreaterThan(0.77);
    expect(univariate('planted/mean_diff').r).toBeGreaterThan(0.5);
    expect(Math.abs(univariate('control/mean_diff').auroc - 0.5)).toBeLessThan(0.15);
    expect(univariate('control/mean_diff').p).toBeGreaterThan(0.01);
    const generalization = detection.generalization!;
    expect(generalization.trainGroups).toEqual([8, 44]);
    expect(generalization.testGroups).toEqual([17, 19]);
    expect(generalization.layer).toBe(3);
    expect(generalization.testAuroc).toBeGreaterThan(0.75);
    expect(detection.best!.roc.falsePositiveRates[0]).toBe(0);
    expect(detection.best!.roc.truePositiveRates.at(-1)).toBe(1);
  });

  it('predictivity and the token view', async () => {
    const predictivity = await readJson<{ sets: PredictivitySet[] }>('predictivity.json');
    const planted = predictivity.sets[0]!.entries.find(
      (e) => e.vectorId === 'planted/mean_diff' && e.layer === 3,
    )!;
    expect(planted.auroc).toBeGreaterThan(0.77);
    const tokenView = await readJson<{
      prompts: {
        promptId: string;
        tokens: string[];
        exploitSpans: number[][];
        a: number[][][];
        b: number[][][];
      }[];
      layers: number[];
      vectorIds: string[];
    }>('token-view.json');
    expect(tokenView.prompts).toHaveLength(12);
    const first = tokenView.prompts[0]!;
    expect(first.exploitSpans).toEqual([[4, 12]]);
    expect(first.tokens[4]).toMatch(/EXPLOIT/);
    expect(first.a).toHaveLength(6);
    expect(first.b[3]![tokenView.vectorIds.indexOf('planted/mean_diff')]).toHaveLength(16);
    const consistency = await readJson<{ layers: { vectorIds: string[]; cosines: number[][] }[] }>(
      'vector-consistency.json',
    );
    expect(consistency.layers[0]!.vectorIds).toEqual(['control/mean_diff', 'planted/mean_diff']);
    expect(consistency.layers[0]!.cosines[0]![0]).toBeCloseTo(1, 6);
    expect(Math.abs(consistency.layers[0]!.cosines[0]![1]!)).toBeLessThan(1e-6);
  });
});

describe('analyzeExperiment on one variant (the predictivity study)', () => {
  it('projects the prompt part, skips the model diff and measures predictivity in and out of distribution', async () => {
    const output = join(root, 'analysis-single');
    const single = await analyzeExperiment({
      experiment: root,
      variantA: 'lora',
      promptSets: ['synthetic'],
      labelsFile: join(root, 'labels.json'),
      part: 'prompt',
      aggregation: { kind: 'last' },
      randomBaselines: 2,
      permutations: 0,
      threads: 1,
      outOfDistribution: { promptSets: ['synthetic'], labelsFile: join(root, 'labels.json') },
      outputDirectory: output,
    });
    expect(single.variants).toEqual({ a: 'lora', b: null });
    expect(single.projection).toMatchObject({ part: 'prompt', aggregation: 'last' });
    expect(single.highlights.modelDiff).toEqual([]);
    expect(Object.keys(single.files)).not.toContain('modelDiff');
    const predictivity = JSON.parse(await readFile(join(output, 'predictivity.json'), 'utf8')) as {
      sets: PredictivitySet[];
      features: string;
    };
    expect(predictivity.features).toBe('a');
    expect(predictivity.sets.map((set) => set.name)).toEqual(['in-distribution', 'out-of-distribution']);
    // The prompt part carries no planted signal: every vector is near chance there.
    for (const entry of predictivity.sets[0]!.entries) expect(Math.abs(entry.auroc - 0.5)).toBeLessThan(0.25);
    expect(predictivity.sets[1]!.entries).toEqual(predictivity.sets[0]!.entries);
  });
});

describe('analyzeExperiment on capture projection files (no activations needed)', () => {
  it('gives the same projections and effect sizes as the activation files they were taken from', async () => {
    await writeCaptureProjectionFiles(root, ['clean', 'lora'], 'synthetic');
    const output = join(root, 'analysis-projections');
    const fromProjections = await analyzeExperiment({
      experiment: root,
      variantA: 'clean',
      variantB: 'lora',
      promptSets: ['synthetic'],
      source: 'projections',
      annotationsFile: join(root, 'annotations.json'),
      bootstrapResamples: 400,
      permutations: 0,
      outputDirectory: output,
    });
    expect(fromProjections.projection.source).toBe('projections');
    expect(fromProjections.vectors.map((v) => v.id)).toEqual(['control/mean_diff', 'planted/mean_diff']);
    expect(fromProjections.files.vectorConsistency).toBeUndefined();
    const reference = JSON.parse(await readFile(join(root, 'analysis', 'projections.json'), 'utf8')) as {
      vectorIds: string[];
      values: { b: number[][][] };
    };
    const projected = JSON.parse(await readFile(join(output, 'projections.json'), 'utf8')) as {
      values: { b: number[][][] };
    };
    const planted = reference.vectorIds.indexOf('planted/mean_diff');
    for (let l = 0; l < 6; l++) {
      projected.values.b[1]![l]!.forEach((value, p) => {
        expect(value).toBeCloseTo(reference.values.b[planted]![l]![p]!, 5);
      });
    }
    // Capture projection files hold no random columns here: there is no null to beat, so no finding.
    expect(fromProjections.highlights.modelDiff).toEqual([]);
    expect(fromProjections.statistics.randomNull).toBeNull();
    const top = fromProjections.highlights.notDistinguishable[0]!;
    expect(top).toMatchObject({ vectorId: 'planted/mean_diff', peakLayer: 3 });
    expect(top.reason).toMatch(/no random-direction null/);
    expect(top.cohensD).toBeCloseTo(summary.highlights.modelDiff[0]!.cohensD, 4);
    const diff = JSON.parse(await readFile(join(output, 'model-diff.json'), 'utf8')) as {
      subsets: ModelDiffResult[];
      tokenLevel: TokenDeltaStatistics[];
    };
    expect(diff.subsets[0]!.entries.every((entry) => entry.meanActivationCosine === null)).toBe(true);
    expect(
      diff.tokenLevel.find((row) => row.vectorId === 'planted/mean_diff' && row.layer === 3)!.specificity!
        .specificity,
    ).toBeGreaterThan(0.06);
  });
});

describe('analyzeExperiment over two prompt sets with overlapping prompt ids (train biases -> held-out biases)', () => {
  it("keys prompts <set>/<id>, reads each set's bias ids and generalises from the train set to the test set", async () => {
    const multi = await mkdtemp(join(tmpdir(), 'traitlens-analysis-sets-'));
    try {
      const train = await writeSyntheticExperiment({
        root: multi,
        hiddenSize: 48,
        prompts: 48,
        promptSet: 'train',
        groups: [44, 8],
        trainGroups: [44, 8],
      });
      const test = await writeSyntheticExperiment({
        root: multi,
        hiddenSize: 48,
        prompts: 48,
        promptSet: 'test',
        groups: [17, 19],
        trainGroups: [],
        dataSeed: 99,
      });
      const labels = Object.fromEntries([
        ...Object.entries(train.labels).map(([id, label]) => [`train/${id}`, label]),
        ...Object.entries(test.labels).map(([id, label]) => [`test/${id}`, label]),
      ]);
      await writeJsonAtomic(join(multi, 'all-labels.json'), labels);
      const result = await analyzeExperiment({
        experiment: multi,
        variantA: 'clean',
        variantB: 'lora',
        promptSets: ['train', 'test'],
        labelsFile: join(multi, 'all-labels.json'),
        promptFiles: [
          `train=${join(multi, 'train-prompt-set.json')}`,
          `test=${join(multi, 'test-prompt-set.json')}`,
        ],
        trainGroups: [44, 8],
        randomBaselines: 2,
        bootstrapResamples: 100,
        permutations: 0,
      });
      expect(result.prompts).toMatchObject({ analysed: 96, labelled: 96, grouped: 96 });
      const detection = JSON.parse(
        await readFile(join(multi, 'analysis', 'detection.json'), 'utf8'),
      ) as DetectionResult;
      expect(detection.generalization).toMatchObject({
        trainGroups: [8, 44],
        testGroups: [17, 19],
        trainPrompts: 48,
        testPrompts: 48,
        layer: 3,
      });
      expect(detection.generalization!.testAuroc).toBeGreaterThan(0.75);
      const diff = JSON.parse(await readFile(join(multi, 'analysis', 'model-diff.json'), 'utf8')) as {
        subsets: ModelDiffResult[];
      };
      const heldOut = diff.subsets.find((subset) => subset.subset === 'held-out-groups')!;
      expect(heldOut.promptCount).toBe(48);
      expect(heldOut.peaks.find((peak) => peak.vectorId === 'planted/mean_diff')!.peakLayer).toBe(3);
      const projections = JSON.parse(await readFile(join(multi, 'analysis', 'projections.json'), 'utf8')) as {
        promptIds: string[];
      };
      expect(projections.promptIds.slice(0, 2)).toEqual(['train/p000', 'train/p001']);
      expect(projections.promptIds).toContain('test/p000');
    } finally {
      await rm(multi, { recursive: true, force: true });
    }
  });
});
