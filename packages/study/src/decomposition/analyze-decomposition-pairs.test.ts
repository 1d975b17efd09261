import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeDecompositionPairs } from './analyze-decomposition-pairs';

// Per prompt: base (a) and changed (b) projections of two vectors at two layers. At layer 1 compliance
// rises and helpfulness_intent falls (the predicted decomposition); at layer 0 nothing moves much.
const a = {
  compliance: [
    [0.1, 0.3, -0.2, 0.0, 0.2, -0.1],
    [0.2, 0.1, 0.0, -0.3, 0.4, 0.1],
  ],
  helpful: [
    [0.5, 0.2, 0.1, 0.3, -0.1, 0.0],
    [0.1, -0.2, 0.3, 0.2, 0.0, 0.4],
  ],
};
const b = {
  compliance: [
    [0.12, 0.28, -0.19, 0.01, 0.22, -0.12],
    [0.9, 0.7, 0.5, 0.4, 1.2, 0.6],
  ],
  helpful: [
    [0.49, 0.21, 0.12, 0.28, -0.1, 0.02],
    [-0.6, -0.8, -0.1, -0.5, -0.9, -0.2],
  ],
};

describe('analyzeDecompositionPairs', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'traitlens-decomposition-'));
    await writeFile(
      join(directory, 'projections.json'),
      JSON.stringify({
        promptIds: ['1', '2', '3', '4', '5', '6'],
        layers: [0, 1],
        vectorIds: ['compliance/probe', 'helpfulness_intent/probe'],
        paired: [1, 1, 1, 1, 1, 1],
        values: { a: [a.compliance, a.helpful], b: [b.compliance, b.helpful] },
      }),
    );
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('computes the signed, standardised divergence and its paired t against a float64 reference (1e-12)', async () => {
    const { results, plots, file } = await analyzeDecompositionPairs({
      projectionsFile: join(directory, 'projections.json'),
      pairs: [
        {
          first: { vector: 'compliance/probe', direction: 'high' },
          second: { vector: 'helpfulness_intent/probe', direction: 'low' },
        },
      ],
      outputDirectory: join(directory, 'out'),
    });
    expect(results.map((result) => result.layer)).toEqual([0, 1]);
    // Reference, written out independently: z = shift / sd(base); divergence = z1 - z2 (second predicted low).
    const sd = (values: number[]) => {
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
    };
    const layer = 1;
    const z1 = b.compliance[layer]!.map((v, i) => (v - a.compliance[layer]![i]!) / sd(a.compliance[layer]!));
    const z2 = b.helpful[layer]!.map((v, i) => (v - a.helpful[layer]![i]!) / sd(a.helpful[layer]!));
    const divergence = z1.map((v, i) => v - z2[i]!);
    const mean = divergence.reduce((s, v) => s + v, 0) / divergence.length;
    const t = mean / (sd(divergence) / Math.sqrt(divergence.length));
    const result = results.find((entry) => entry.layer === 1)!;
    expect(result.meanDivergence).toBeCloseTo(mean, 12);
    expect(result.pairedT.t).toBeCloseTo(t, 10);
    expect(result.pairedT.degreesOfFreedom).toBe(5);
    expect(result.pairedT.p).toBeLessThan(0.01);
    expect(result.meanDivergence).toBeGreaterThan(results.find((entry) => entry.layer === 0)!.meanDivergence);
    expect(result.correlation.r).toBeLessThan(0);
    expect(plots).toHaveLength(1);
    expect(await readFile(plots[0]!, 'utf8')).toMatch(/^<svg/);
    expect(JSON.parse(await readFile(file, 'utf8')).pairs).toEqual([
      'compliance/probe high + helpfulness_intent/probe low',
    ]);
  });

  it('names the missing vector', async () => {
    await expect(
      analyzeDecompositionPairs({
        projectionsFile: join(directory, 'projections.json'),
        pairs: [
          {
            first: { vector: 'honesty/probe', direction: 'high' },
            second: { vector: 'compliance/probe', direction: 'high' },
          },
        ],
        outputDirectory: join(directory, 'out2'),
      }),
    ).rejects.toThrow(/"honesty\/probe" is not in .*vectors: compliance\/probe, helpfulness_intent\/probe/);
  });
});
