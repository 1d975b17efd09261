import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readActivationFile,
  TraitlensError,
  type TraitVectorSet,
  writeActivationFile,
} from '@traitlens/core';
import { numberToBfloat16Bits } from '@traitlens/core/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRandom } from '../stats/seeded-random';
import { projectActivationFiles } from './project-activation-files';
import { projectTokenActivations } from './project-token-activations';
import { type ProjectionSettings, parseResponseAggregation, resolveTokenRange } from './projection-settings';
import { readProjectionColumn } from './projection-table';
import { readActivationTensors } from './read-activation-tensors';
import { summarizeTokenProjections } from './summarize-token-projections';
import { createVectorBank } from './vector-bank';

const hidden = 24;
const tokens = 9;
const random = createSeededRandom(11);
let directory: string;

function vectorSet(trait: string, layers: number[], baselines?: Record<number, number>): TraitVectorSet {
  const vectors = new Map(
    layers.map((layer) => [layer, Float32Array.from({ length: hidden }, () => random.nextNormal() * 2)]),
  );
  return {
    metadata: {
      trait,
      method: 'probe',
      model: 'm',
      site: 'resid_post',
      tokenWindow: 'response[:5]',
      normalisation: 'raw',
      hiddenSize: hidden,
      ...(baselines ? { baselines } : {}),
    },
    vectors,
  };
}

const sets = [vectorSet('a', [0, 2], { 0: 0.5, 2: -0.25 }), vectorSet('b', [0, 2]), vectorSet('c', [2])];
const bank = createVectorBank(
  sets.map((set) => ({ set })),
  { randomBaselines: 2, seed: 3 },
);

function activations(): Map<string, Float32Array> {
  const map = new Map<string, Float32Array>();
  for (const layer of [0, 1, 2]) {
    map.set(
      `prompt.resid_post.${layer}`,
      Float32Array.from({ length: 3 * hidden }, () => random.nextNormal()),
    );
    map.set(
      `response.resid_post.${layer}`,
      Float32Array.from({ length: tokens * hidden }, () => random.nextNormal() + 0.3),
    );
  }
  return map;
}

const record = (
  promptId: string,
  dtype: 'F16' | 'F32',
  responseIds = Int32Array.from({ length: tokens }, (_, i) => i),
) => ({
  variant: 'v',
  model: 'm',
  promptId,
  promptTokenIds: Int32Array.from([7, 8, 9]),
  responseTokenIds: responseIds,
  hiddenSize: hidden,
  activations: activations(),
  dtype,
});

/** Float64 reference: h . v/|v| from the values as stored (f16-rounded when stored as f16). */
function naiveDot(row: Float32Array, vector: Float32Array): number {
  let dot = 0;
  let squares = 0;
  for (let j = 0; j < hidden; j++) {
    dot += row[j]! * vector[j]!;
    squares += vector[j]! * vector[j]!;
  }
  return dot / Math.sqrt(squares);
}

/** A safetensors file with BF16 activations, written byte by byte (core writes F16/F32 only). */
async function writeBfloat16File(path: string, rows: Float32Array): Promise<void> {
  const ids = new Int32Array([5]);
  const promptIds = new Int32Array(0);
  const bits = Uint16Array.from(rows, (value) => numberToBfloat16Bits(value));
  const header: Record<string, unknown> = {
    __metadata__: { format: 'traitlens.activations', prompt_id: 'bf', hidden_size: String(hidden) },
    prompt_ids: { dtype: 'I32', shape: [0], data_offsets: [0, 0] },
    response_ids: { dtype: 'I32', shape: [1], data_offsets: [0, 4] },
    'response.resid_post.0': { dtype: 'BF16', shape: [1, hidden], data_offsets: [4, 4 + hidden * 2] },
    'response.resid_post.2': {
      dtype: 'BF16',
      shape: [1, hidden],
      data_offsets: [4 + hidden * 2, 4 + hidden * 4],
    },
  };
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  await writeFile(
    path,
    Buffer.concat([
      length,
      Buffer.from(text),
      Buffer.from(promptIds.buffer),
      Buffer.from(ids.buffer),
      Buffer.from(bits.buffer),
      Buffer.from(bits.buffer),
    ]),
  );
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'traitlens-projections-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('vector bank', () => {
  it('lays out unit vectors per layer, marks missing layers and keeps baselines', () => {
    expect(bank.layers).toEqual([0, 2]);
    expect(bank.vectors.map((v) => v.id)).toEqual(['a/probe', 'b/probe', 'c/probe', 'random/0', 'random/1']);
    expect(Array.from(bank.present[0]!)).toEqual([1, 1, 0, 1, 1]);
    expect(Array.from(bank.baselines[1]!)).toEqual([-0.25, 0, 0, 0, 0]);
    const unit = bank.unitVectors[1]!.subarray(2 * hidden, 3 * hidden);
    expect(Math.hypot(...unit)).toBeCloseTo(1, 6);
    expect(() =>
      createVectorBank([
        { set: sets[0]! },
        { set: { ...sets[1]!, metadata: { ...sets[1]!.metadata, hiddenSize: 8 } } },
      ]),
    ).toThrow(/width 8/);
    expect(() => createVectorBank([{ set: sets[0]! }], { layers: [1] })).toThrow(/No vector covers layer 1/);
  });
});

describe('projecting activation files', () => {
  for (const dtype of ['F32', 'F16'] as const) {
    it(`matches a float64 reference on ${dtype} files (scalar, cosine, centred, every aggregation)`, async () => {
      const path = join(directory, `p-${dtype}.safetensors`);
      await writeActivationFile(path, record(`p-${dtype}`, dtype));
      const stored = await readActivationFile(path);
      const projections = projectTokenActivations(
        await readActivationTensors(path, 'response', 'resid_post', bank.layers),
        bank,
      );
      expect(projections.tokenCount).toBe(tokens);
      bank.layers.forEach((layer, l) => {
        const rows = stored.activations.get(`response.resid_post.${layer}`)!;
        sets.forEach((set, k) => {
          const vector = set.vectors.get(layer);
          if (!vector) return;
          for (let t = 0; t < tokens; t++) {
            const row = rows.subarray(t * hidden, (t + 1) * hidden);
            const expected = naiveDot(row, vector);
            expect(projections.dots[(l * bank.vectors.length + k) * tokens + t]).toBeCloseTo(expected, 5);
            expect(projections.norms[l * tokens + t]).toBeCloseTo(Math.hypot(...row), 5);
          }
          const series = Array.from({ length: tokens }, (_, t) =>
            naiveDot(rows.subarray(t * hidden, (t + 1) * hidden), vector),
          );
          const norms = Array.from({ length: tokens }, (_, t) =>
            Math.hypot(...rows.subarray(t * hidden, (t + 1) * hidden)),
          );
          const baseline = set.metadata.baselines?.[layer] ?? 0;
          const cases: [ProjectionSettings, number][] = [
            [
              { measure: 'scalar', centred: false, aggregation: { kind: 'mean' }, part: 'response' },
              series.reduce((x, y) => x + y) / tokens,
            ],
            [
              { measure: 'scalar', centred: true, aggregation: { kind: 'max' }, part: 'response' },
              Math.max(...series) - baseline,
            ],
            [
              { measure: 'cosine', centred: false, aggregation: { kind: 'last' }, part: 'response' },
              series[tokens - 1]! / norms[tokens - 1]!,
            ],
            [
              {
                measure: 'cosine',
                centred: true,
                aggregation: { kind: 'window', start: 0, end: 5 },
                part: 'response',
              },
              series.slice(0, 5).reduce((sum, value, t) => sum + (value - baseline) / norms[t]!, 0) / 5,
            ],
            [
              {
                measure: 'scalar',
                centred: false,
                aggregation: { kind: 'window', start: -3 },
                part: 'response',
              },
              series.slice(-3).reduce((x, y) => x + y) / 3,
            ],
          ];
          for (const [settings, expected] of cases) {
            expect(
              summarizeTokenProjections(projections, bank, settings)[l * bank.vectors.length + k],
            ).toBeCloseTo(expected, 5);
          }
        });
      });
      const absent = summarizeTokenProjections(projections, bank, {
        measure: 'scalar',
        centred: false,
        aggregation: { kind: 'mean' },
        part: 'response',
      });
      expect(absent[2]).toBeNaN();
    });
  }

  it('reads BF16 activations', async () => {
    const path = join(directory, 'bf16.safetensors');
    const row = Float32Array.from({ length: hidden }, () => random.nextNormal());
    await writeBfloat16File(path, row);
    const projections = projectTokenActivations(
      await readActivationTensors(path, 'response', 'resid_post', bank.layers),
      bank,
    );
    const rounded = Float32Array.from(row, (value) => {
      const view = new DataView(new ArrayBuffer(4));
      view.setUint32(0, numberToBfloat16Bits(value) << 16);
      return view.getFloat32(0);
    });
    expect(projections.dots[0]).toBeCloseTo(naiveDot(rounded, sets[0]!.vectors.get(0)!), 5);
  });

  it('names the captured layers when a layer is missing, and refuses vectors of another width', async () => {
    const path = join(directory, 'p-F32.safetensors');
    const error = await readActivationTensors(path, 'response', 'resid_post', [5]).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'INVALID_ACTIVATION_FILE')).toBe(true);
    expect((error as Error).message).toContain('captured for layers [0, 1, 2]');
    const narrow = createVectorBank([
      {
        set: {
          metadata: { ...sets[0]!.metadata, hiddenSize: 4 },
          vectors: new Map([[0, new Float32Array(4).fill(1)]]),
        },
      },
    ]);
    const tensors = await readActivationTensors(path, 'response', 'resid_post', [0]);
    expect(() => projectTokenActivations(tensors, narrow)).toThrow(
      /width 24 but the trait vectors have width 4/,
    );
  });

  it('pairs variants on identical tokens only and accumulates token deltas', async () => {
    const files = [];
    for (const [index, same] of [true, true, false].entries()) {
      const a = record(`q${index}`, 'F32');
      const b = {
        ...record(
          `q${index}`,
          'F32',
          same ? a.responseTokenIds : Int32Array.from({ length: tokens }, (_, i) => 100 + i),
        ),
      };
      const pathA = join(directory, `qa${index}.safetensors`);
      const pathB = join(directory, `qb${index}.safetensors`);
      await writeActivationFile(pathA, a);
      await writeActivationFile(pathB, b);
      files.push({ promptId: `q${index}`, pathA, pathB });
    }
    const settings: ProjectionSettings = {
      measure: 'cosine',
      centred: false,
      aggregation: { kind: 'mean' },
      part: 'response',
    };
    const projected = await projectActivationFiles(files, {
      bank,
      settings,
      variantA: 'A',
      variantB: 'B',
      readAhead: 2,
      annotations: new Map([['q0', [{ start: 2, end: 4 }]]]),
      keepTokens: (id) => id === 'q1',
    });
    expect(Array.from(projected.paired)).toEqual([1, 1, 0]);
    expect(projected.meanActivations!.prompts).toBe(2);
    expect([...projected.tokens.keys()]).toEqual(['q1']);
    const delta = projected.tokenDeltas!.find((row) => row.vectorId === 'a/probe' && row.layer === 0)!;
    expect(delta.tokens).toBe(2 * tokens);
    expect(delta.specificity).toMatchObject({ insideTokens: 2, outsideTokens: tokens - 2 });
    const column = readProjectionColumn(projected.b!, 0, 0);
    expect(column).toHaveLength(3);
    expect(projected.a.promptIds).toEqual(['q0', 'q1', 'q2']);
  });
});

describe('worker threads', () => {
  it('give exactly the results of projecting on the calling thread', async () => {
    const files: { promptId: string; pathA: string; pathB: string }[] = [];
    for (let index = 0; index < 5; index++) {
      const pathA = join(directory, `wa${index}.safetensors`);
      const pathB = join(directory, `wb${index}.safetensors`);
      await writeActivationFile(pathA, record(`w${index}`, index % 2 === 0 ? 'F16' : 'F32'));
      await writeActivationFile(pathB, record(`w${index}`, 'F16'));
      files.push({ promptId: `w${index}`, pathA, pathB });
    }
    const settings: ProjectionSettings = {
      measure: 'cosine',
      centred: true,
      aggregation: { kind: 'mean' },
      part: 'response',
    };
    const run = (threads: number) =>
      projectActivationFiles(files, {
        bank,
        settings,
        variantA: 'A',
        variantB: 'B',
        threads,
        keepTokens: () => true,
      });
    const [single, pooled] = [await run(1), await run(3)];
    expect(Array.from(pooled.a.values)).toEqual(Array.from(single.a.values));
    expect(Array.from(pooled.b!.values)).toEqual(Array.from(single.b!.values));
    expect(pooled.tokenDeltas).toEqual(single.tokenDeltas);
    expect(Array.from(pooled.meanActivations!.b[1]!)).toEqual(Array.from(single.meanActivations!.b[1]!));
    expect(Array.from(pooled.tokens.get('w3')!.b!.dots)).toEqual(
      Array.from(single.tokens.get('w3')!.b!.dots),
    );
  });
});

describe('aggregation syntax', () => {
  it('parses mean, max, last and slices, and resolves slices like Python', () => {
    expect(parseResponseAggregation('mean')).toEqual({ kind: 'mean' });
    expect(parseResponseAggregation('[:5]')).toEqual({ kind: 'window', start: 0, end: 5 });
    expect(parseResponseAggregation('[-10:]')).toEqual({ kind: 'window', start: -10 });
    expect(resolveTokenRange({ kind: 'window', start: -10 }, 4)).toEqual([0, 4]);
    expect(resolveTokenRange({ kind: 'window', start: 2, end: -1 }, 6)).toEqual([2, 5]);
    expect(resolveTokenRange({ kind: 'last' }, 0)).toEqual([0, 0]);
    expect(() => parseResponseAggregation('median')).toThrow(/not one of mean, max, last/);
  });
});
