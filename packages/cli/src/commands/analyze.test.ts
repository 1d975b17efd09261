import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  experimentLayout,
  readTraitVectors,
  writeActivationFile,
  writeJsonAtomic,
  writeTraitVectors,
} from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../__fixtures__/run-cli-captured';

/** A small deterministic pseudo-random sequence (the test needs no statistics library). */
function createNoise(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648 - 0.5;
  };
}

let root: string;
const hidden = 16;

// Two traits along the first two axes; variant "lora" adds +1 along axis 0 at layer 1 on even (label 1) prompts.
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'traitlens-cli-analyze-'));
  const layout = experimentLayout(root);
  for (const [index, trait] of ['sycophancy', 'honesty'].entries()) {
    const vector = new Float32Array(hidden);
    vector[index] = 1;
    await writeTraitVectors(join(layout.extraction('alignment', trait).vectors, 'mean_diff.safetensors'), {
      metadata: {
        trait,
        method: 'mean_diff',
        model: 'synthetic',
        site: 'resid_post',
        tokenWindow: 'response[:5]',
        normalisation: 'unit',
        hiddenSize: hidden,
      },
      vectors: new Map([
        [0, vector],
        [1, vector],
      ]),
    });
  }
  const noise = createNoise(7);
  const labels: Record<string, number> = {};
  for (let p = 0; p < 24; p++) {
    const promptId = `q${p}`;
    labels[promptId] = p % 2 === 0 ? 1 : 0;
    const tokens = 6;
    const promptTokenIds = Int32Array.from([1, 2]);
    const responseTokenIds = Int32Array.from({ length: tokens }, (_, i) => 10 + i);
    const clean = new Map<string, Float32Array>();
    const lora = new Map<string, Float32Array>();
    for (const layer of [0, 1]) {
      const rows = Float32Array.from({ length: tokens * hidden }, () => noise() + 0.5);
      clean.set(`response.resid_post.${layer}`, rows);
      lora.set(
        `response.resid_post.${layer}`,
        rows.map((value, i) => (layer === 1 && p % 2 === 0 && i % hidden === 0 ? value + 1 : value)),
      );
    }
    for (const [variant, activations] of [
      ['clean', clean],
      ['lora', lora],
    ] as const) {
      await writeActivationFile(
        join(layout.inference(variant, 'demo').activations, `${promptId}.safetensors`),
        {
          variant,
          model: 'synthetic',
          promptId,
          promptTokenIds,
          responseTokenIds,
          hiddenSize: hidden,
          activations,
        },
        {
          promptId,
          promptText: `prompt ${p}`,
          responseText: 'r',
          promptTokens: ['a', 'b'],
          responseTokens: Array.from({ length: tokens }, (_, i) => ` w${i}`),
        },
      );
    }
  }
  await writeJsonAtomic(join(root, 'labels.json'), labels);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('traitlens analyze and report', () => {
  it('analyses an experiment, prints the peak effects and writes analysis/*.json', async () => {
    const result = await capture([
      'analyze',
      '--experiment',
      root,
      '--baseline-variant',
      'clean',
      '--variant',
      'lora',
      '--prompt-set',
      'demo',
      '--labels',
      join(root, 'labels.json'),
      '--random-baselines',
      '2',
      '--bootstrap',
      '50',
      '--permutations',
      '5',
      '--folds',
      '3',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('analysed 24 prompts (24 paired, 24 labelled) x 4 vectors x 2 layers');
    // The planted sycophancy difference is a finding at layer 1; detection picks layer 1.
    expect(result.stdout).toMatch(/findings [^\n]*: 1\n {2}sycophancy\/mean_diff\s+layer\s+1\s+d\s/);
    expect(result.stdout).toMatch(/detection \([^)]*\): layer 1,/);
    for (const file of [
      'summary',
      'projections',
      'model-diff',
      'detection',
      'predictivity',
      'vector-consistency',
      'token-view',
    ]) {
      expect(existsSync(join(root, 'analysis', `${file}.json`)), file).toBe(true);
    }
    const summary = JSON.parse(await readFile(join(root, 'analysis', 'summary.json'), 'utf8')) as {
      highlights: { modelDiff: { vectorId: string; peakLayer: number; cohensD: number }[] };
    };
    expect(summary.highlights.modelDiff[0]).toMatchObject({ vectorId: 'sycophancy/mean_diff', peakLayer: 1 });
    expect(summary.highlights.modelDiff[0]!.cohensD).toBeGreaterThan(0.5);
  });

  it('writes the HTML report', async () => {
    const result = await capture(['report', '--experiment', root, '--no-images']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/wrote .*index\.html \(\d+\.\d MB, \d+ charts\)/);
    const html = await readFile(join(root, 'report', 'index.html'), 'utf8');
    expect(html).toContain('traitlens report');
    expect(existsSync(join(root, 'report', 'plots'))).toBe(false);
  });

  it('writes progress lines for compiling the charts and writing their images when not on a TTY', async () => {
    // Not a TTY here: progress comes as plain lines; a short interval makes every step write some.
    const interval = process.env.TRAITLENS_PROGRESS_INTERVAL;
    process.env.TRAITLENS_PROGRESS_INTERVAL = '0.01';
    let result: Awaited<ReturnType<typeof capture>>;
    try {
      result = await capture(['report', '--experiment', root, '--output', join(root, 'report-progress')]);
    } finally {
      if (interval === undefined) delete process.env.TRAITLENS_PROGRESS_INTERVAL;
      else process.env.TRAITLENS_PROGRESS_INTERVAL = interval;
    }
    expect(result.code, result.stderr).toBe(0);
    for (const step of ['compiling charts', 'writing chart images'])
      expect(result.stderr).toMatch(new RegExp(`^${step}: \\d+/\\d+ charts \\(\\d+%\\), \\d+s elapsed`, 'm'));
  });

  it('names the missing folder and the fix when the variant has no activations', async () => {
    const result = await capture([
      'analyze',
      '--experiment',
      root,
      '--a',
      'clean',
      '--b',
      'nope',
      '--prompt-set',
      'demo',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No activations for variant "nope" and prompt set "demo"');
    expect(result.stderr).toContain('error FILE_NOT_FOUND');
  });

  it('--methods best analyses each trait with the method its extraction evaluation ranked best', async () => {
    const args = ['analyze', '--experiment', root, '--variant', 'lora', '--baseline-variant', 'clean'];
    const rest = [
      '--prompt-set',
      'demo',
      '--random-baselines',
      '2',
      '--bootstrap',
      '20',
      '--output',
      join(root, 'analysis-best'),
    ];
    const mixed = await capture([...args, '--methods', 'best,probe', ...rest]);
    expect(mixed.code).not.toBe(0);
    expect(mixed.stderr).toContain('best chooses one method per trait and goes alone');
    const layout = experimentLayout(root);
    const missing = await capture([...args, '--methods', 'best', ...rest]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error FILE_NOT_FOUND');
    expect(missing.stderr).toContain(layout.extraction('alignment', 'honesty').evaluation);
    expect(missing.stderr).toContain(`traitlens extract --experiment ${root} --traits alignment/honesty`);
    // honesty's evaluation ranks pca_diff best (stored here as a second vector file), sycophancy's mean_diff.
    const vectors = join(layout.extraction('alignment', 'honesty').vectors, 'mean_diff.safetensors');
    const honesty = await readTraitVectors(vectors);
    await writeTraitVectors(join(layout.extraction('alignment', 'honesty').vectors, 'pca_diff.safetensors'), {
      metadata: { ...honesty.metadata, method: 'pca_diff' },
      vectors: honesty.vectors,
    });
    for (const [trait, best] of [
      ['honesty', 'pca_diff'],
      ['sycophancy', 'mean_diff'],
    ] as const)
      await writeJsonAtomic(layout.extraction('alignment', trait).evaluation, {
        trait: `alignment/${trait}`,
        sites: { resid_post: { best: { method: best, layer: 1, combinedScore: 0.9 } } },
      });
    const result = await capture([...args, '--methods', 'best', ...rest]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('best method per trait: honesty/pca_diff, sycophancy/mean_diff');
    const summary = JSON.parse(await readFile(join(root, 'analysis-best', 'summary.json'), 'utf8')) as {
      vectors: { id: string; isRandomBaseline: boolean }[];
    };
    expect(summary.vectors.filter((vector) => !vector.isRandomBaseline).map((vector) => vector.id)).toEqual([
      'honesty/pca_diff',
      'sycophancy/mean_diff',
    ]);
  });
});
