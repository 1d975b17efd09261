import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTraitVectors } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../__fixtures__/run-cli-captured';

// The shipped example config of the predictivity study: a generated tiny chat model, synthetic A/B items
// and a free-text contrast set; only published commands, no example code.
const configFile = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'examples',
  'sycophancy-predictivity',
  'experiments',
  'sycophancy-predictivity-tiny.yaml',
);

interface PredictivityJson {
  format: string;
  layers: number[];
  data: { name: string; used: number; tooLong: number }[];
  vectors: { name: string; file: string }[];
  consistency: { layer: number; variants: string[]; cosines: number[][] }[];
  choices: { set: string; n: number; positives: number; rate: number }[];
  heldOut: {
    set: string;
    vector: string;
    position: string;
    n: number;
    positives: number;
    layers: { layer: number; auroc: number | null; aurocInterval: [number, number] | null }[];
  }[];
  contrast: {
    set: string;
    vector: string;
    items: number;
    layers: { layer: number; auroc: number; pairedAccuracy: number }[];
  }[];
  ablation: {
    set: string;
    items: number;
    baselineRate: number;
    baselineAgreesWithScore: boolean;
    results: { layers: number[]; rate: number; change: number }[];
  };
  plots: string[];
}

describe('traitlens run on sycophancy-predictivity-tiny.yaml, end to end', () => {
  let directory: string;
  let run: { code: number; stdout: string; stderr: string };
  let results: PredictivityJson;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'traitlens-predictivity-'));
    // Not a TTY here: progress comes as plain lines; a tiny interval makes every step write some.
    const interval = process.env.TRAITLENS_PROGRESS_INTERVAL;
    process.env.TRAITLENS_PROGRESS_INTERVAL = '0.001';
    try {
      run = await runCliCaptured(['run', configFile, '--output', directory, '--lock-wait', '5']);
    } finally {
      if (interval === undefined) delete process.env.TRAITLENS_PROGRESS_INTERVAL;
      else process.env.TRAITLENS_PROGRESS_INTERVAL = interval;
    }
    results = JSON.parse(await readFile(join(directory, 'predictivity', 'predictivity.json'), 'utf8'));
  }, 600_000);

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('runs the predictivity stage only (no other block in the config)', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^sycophancy-predictivity-tiny: ran predictivity; skipped extract, steer, capture, replay, label, intervene, analyze, report in /,
    );
  });

  it('writes progress lines with counts and elapsed time for its long steps when not on a TTY', () => {
    for (const step of ['CAA vectors', 'in-distribution', 'truthfulqa', 'contrast', 'ablation'])
      expect(run.stderr).toMatch(
        new RegExp(`^predictivity: ${step}: \\d+/\\d+ \\w+ \\(\\d+%\\), \\d+s elapsed`, 'm'),
      );
  });

  it('checks the config and every input file before loading a model', async () => {
    const bad = await runCliCaptured(['run', configFile, '--output', directory, '--lock-wait', 'soon']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--lock-wait/);
    const broken = join(directory, 'broken.yaml');
    await writeFile(
      broken,
      `name: broken
tinyOrganism: { seed: 11, hiddenSize: 64, layerCount: 3 }
models: { instruct: { source: "tiny:instruct" } }
stages:
  predictivity:
    caa: { items: missing.json }
    contrastSets: [{ name: free, file: missing-contrast.json }]
`,
    );
    const failed = await runCliCaptured(['run', broken, '--output', join(directory, 'broken')]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/2 problems found before loading any model/);
    expect(failed.stderr).toMatch(/missing\.json/);
    expect(failed.stderr).toMatch(/missing-contrast\.json/);
    expect(failed.stderr).not.toMatch(/^loading /m);
  });

  it('writes the CAA vector variants as ordinary caa vector files', async () => {
    const names = results.vectors.map((vector) => vector.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'caa-letter',
        'caa-answer-end',
        'caa-letter-balanced',
        'caa-letter-first-half',
      ]),
    );
    const letter = await readTraitVectors(
      join(directory, 'predictivity', 'vectors', 'caa-letter.safetensors'),
    );
    expect(letter.metadata.method).toBe('caa');
    expect([...letter.vectors.keys()]).toEqual([0, 1, 2]);
    // A vector has cosine 1 with itself.
    const index = results.consistency[0]!.variants.indexOf('caa-letter');
    expect(results.consistency[0]!.cosines[index]![index]).toBeCloseTo(1, 5);
  });

  it('measures both held-out A/B sets at both positions, with the model-chosen labels', () => {
    expect(results.data.map((entry) => [entry.name, entry.used, entry.tooLong])).toEqual([
      ['caa', 8, 0],
      ['in-distribution', 6, 0],
      ['truthfulqa', 6, 0],
    ]);
    for (const set of ['in-distribution', 'truthfulqa']) {
      const choice = results.choices.find((entry) => entry.set === set)!;
      expect(choice.n).toBe(6);
      const tables = results.heldOut.filter((table) => table.set === set);
      expect(new Set(tables.map((table) => table.position))).toEqual(new Set(['prompt', 'continuation']));
      for (const table of tables) {
        expect(table.positives).toBe(choice.positives);
        expect(table.layers.map((row) => row.layer)).toEqual([0, 1, 2]);
        for (const row of table.layers)
          if (row.auroc !== null) {
            expect(row.auroc).toBeGreaterThanOrEqual(0);
            expect(row.auroc).toBeLessThanOrEqual(1);
          }
      }
    }
  });

  it('measures the free-text contrast set with every vector', () => {
    const entries = results.contrast.filter((entry) => entry.set === 'contrast');
    expect(entries.map((entry) => entry.vector)).toEqual(results.vectors.map((vector) => vector.name));
    for (const entry of entries) {
      expect(entry.items).toBe(6);
      expect(entry.layers.map((row) => row.layer)).toEqual([0, 1, 2]);
    }
  });

  it('ablates the CAA vector at each layer and at all of them; the unablated path reproduces the labels', () => {
    expect(results.ablation.set).toBe('in-distribution');
    expect(results.ablation.baselineAgreesWithScore).toBe(true);
    expect(results.ablation.baselineRate).toBeCloseTo(
      results.choices.find((entry) => entry.set === 'in-distribution')!.rate,
      10,
    );
    expect(results.ablation.results.map((result) => result.layers)).toEqual([[0], [1], [2], [0, 1, 2]]);
  });

  it('draws a plot per set and for the ablation', async () => {
    expect(results.plots).toEqual(['in-distribution.svg', 'truthfulqa.svg', 'contrast.svg', 'ablation.svg']);
    for (const plot of results.plots) {
      const svg = await readFile(join(directory, 'predictivity', plot), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
    }
  });

  it('skips the finished stage on a second run and status reports it done', async () => {
    const again = await runCliCaptured(['run', configFile, '--output', directory]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/predictivity: finished .* with these settings; skipped/);
    const status = await runCliCaptured(['status', directory]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/predictivity\s+done/);
    await access(join(directory, 'pipeline.json'));
  });
});
