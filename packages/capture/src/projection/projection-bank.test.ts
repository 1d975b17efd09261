import type { TraitVectorSet } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { createProjectionBank, describeProjectionColumns, projectCapturedTokens } from './projection-bank';

function vectorSet(trait: string, method: string, vectors: Record<number, number[]>): TraitVectorSet {
  const width = Object.values(vectors)[0]!.length;
  return {
    metadata: {
      trait,
      method,
      model: 'tiny',
      site: 'resid_post',
      tokenWindow: 'response[:5]',
      normalisation: 'raw',
      hiddenSize: width,
      baselines: { 2: 0.25 },
    },
    vectors: new Map(
      Object.entries(vectors).map(([layer, values]) => [Number(layer), Float32Array.from(values)]),
    ),
  };
}

describe('createProjectionBank', () => {
  const bank = createProjectionBank([
    { vectors: vectorSet('sycophancy', 'mean_diff', { 2: [3, 4, 0], 5: [0, 0, 2] }) },
    { vectors: vectorSet('deception', 'probe', { 2: [0, 1, 0] }), name: 'deception' },
  ]);

  it('groups unit vectors by hook point, in layer order, with norms and baselines', () => {
    expect(bank.points.map((entry) => entry.point)).toEqual([
      { site: 'resid_post', layer: 2 },
      { site: 'resid_post', layer: 5 },
    ]);
    const layer2 = bank.points[0]!;
    expect(layer2.columns.map((column) => [column.name, column.vectorNorm, column.baseline])).toEqual([
      ['sycophancy:mean_diff', 5, 0.25],
      ['deception', 1, 0.25],
    ]);
    expect([...layer2.unitVectors]).toEqual([0.6, 0.8, 0, 0, 1, 0].map(Math.fround));
    expect(Object.keys(describeProjectionColumns(bank))).toEqual(['resid_post.2', 'resid_post.5']);
  });

  it('projects each token onto every unit vector and records |h|', () => {
    // Two tokens at layer 2: h0 = (3, 4, 0), h1 = (1, -2, 2).
    const { projections, norms } = projectCapturedTokens(
      Float32Array.from([3, 4, 0, 1, -2, 2]),
      2,
      bank.points[0]!,
      3,
    );
    expect([...projections].map((value) => Number(value.toFixed(5)))).toEqual([5, 4, -1, -2]);
    expect([...norms]).toEqual([5, 3]);
  });

  it('restricts the bank to selected layers and rejects clashing names, zero vectors and mixed widths', () => {
    const only5 = createProjectionBank([{ vectors: vectorSet('a', 'm', { 2: [1, 0], 5: [0, 1] }) }], {
      layers: [5],
    });
    expect(only5.points.map((entry) => entry.point.layer)).toEqual([5]);
    expect(() =>
      createProjectionBank([
        { vectors: vectorSet('a', 'm', { 1: [1, 0] }), file: 'one.safetensors' },
        { vectors: vectorSet('a', 'm', { 1: [0, 1] }), file: 'two.safetensors' },
      ]),
    ).toThrow(/both be named "a:m" in the projection bank \(one.safetensors and two.safetensors\)/);
    expect(() => createProjectionBank([{ vectors: vectorSet('a', 'm', { 1: [0, 0] }) }])).toThrow(/norm 0/);
    expect(() =>
      createProjectionBank([
        { vectors: vectorSet('a', 'm', { 1: [1, 0] }) },
        { vectors: vectorSet('b', 'm', { 1: [1, 0, 0] }), file: 'wide.safetensors' },
      ]),
    ).toThrow(/wide.safetensors has width 3 but the other vectors of the bank have 2/);
    expect(() =>
      createProjectionBank([{ vectors: vectorSet('a', 'm', { 1: [1, 0] }) }], { layers: [4] }),
    ).toThrow(/None of the vector files has a vector at the selected layers \[4\]/);
  });
});
