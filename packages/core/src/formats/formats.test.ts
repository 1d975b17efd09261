import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
import { legacyLayerConventions } from '../hooks/hook-point';
import { writeSafetensors } from '../safetensors/write-safetensors';
import { readActivationFile, writeActivationFile } from './activation-file';
import { assertVectorsFitModel, readTraitVectors, writeTraitVectors } from './trait-vector-file';

describe('trait vector files', () => {
  it('round-trips vectors and metadata, including biases and baselines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-vec-'));
    const path = join(dir, 'probe.safetensors');
    await writeTraitVectors(path, {
      metadata: {
        trait: 'alignment/sycophancy',
        method: 'probe',
        model: 'org/m',
        site: 'resid_post',
        tokenWindow: 'response[:5]',
        normalisation: 'unit',
        hiddenSize: 2,
        biases: { 0: 0.5, 3: -1 },
        extra: { note: 'x' },
      },
      vectors: new Map([
        [3, new Float32Array([0, 1])],
        [0, new Float32Array([1, 0])],
      ]),
    });
    const set = await readTraitVectors(path);
    expect([...set.vectors.keys()].sort()).toEqual([0, 3]);
    expect(Array.from(set.vectors.get(3)!)).toEqual([0, 1]);
    expect(set.metadata).toMatchObject({
      trait: 'alignment/sycophancy',
      method: 'probe',
      hiddenSize: 2,
      biases: { 0: 0.5, 3: -1 },
      extra: { note: 'x' },
    });
    expect(() => assertVectorsFitModel(set, { hiddenSize: 4, layerCount: 8, id: 'other' })).toThrow(
      /width 2 .* other has hidden size 4/,
    );
    expect(() => assertVectorsFitModel(set, { hiddenSize: 2, layerCount: 2 })).toThrow(
      /layer 3 but the model has 2 layers/,
    );
    const notVectors = join(dir, 'x.safetensors');
    await writeSafetensors(notVectors, { w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    expect(
      TraitlensError.hasCode(
        await readTraitVectors(notVectors).catch((e: unknown) => e),
        'INVALID_VECTOR_FILE',
      ),
    ).toBe(true);
  });
});

describe('trait vector files written by earlier versions', () => {
  it('reads a file carrying the legacy layer-convention wording like a current one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-vec-legacy-'));
    const path = join(dir, 'mean_diff.safetensors');
    await writeSafetensors(
      path,
      { 'layer.1': { dtype: 'F32', shape: [2], data: new Float32Array([0.6, 0.8]) } },
      {
        format: 'traitlens.trait-vectors',
        format_version: '1',
        trait: 't/x',
        method: 'mean_diff',
        model: 'org/m',
        site: 'resid_post',
        layer_convention: legacyLayerConventions[0]!,
        token_window: 'response[:5]',
        normalisation: 'unit',
        hidden_size: '2',
        layers: '[1]',
      },
    );
    const set = await readTraitVectors(path);
    expect(Array.from(set.vectors.get(1)!)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(set.metadata.extra ?? {}).not.toHaveProperty('layer_convention');
  });
});

describe('trait vector file checks', () => {
  const metadata = {
    trait: 't/x',
    method: 'mean_diff',
    model: 'org/m',
    site: 'resid_post' as const,
    tokenWindow: 'response[:5]',
    normalisation: 'unit',
    hiddenSize: 2,
  };

  it('refuses to write NaN, infinite or all-zero vectors, leaving no file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-vec-'));
    const path = join(dir, 'v.safetensors');
    for (const [bad, pattern] of [
      [[Number.NaN, 1], /layer 4 has a non-finite component \(NaN at index 0\)/],
      [[1, Number.POSITIVE_INFINITY], /non-finite component \(Infinity at index 1\)/],
      [[0, 0], /layer 4 is all zeros/],
    ] as const) {
      const error = await writeTraitVectors(path, {
        metadata,
        vectors: new Map([[4, new Float32Array(bad)]]),
      }).catch((e: unknown) => e);
      expect(TraitlensError.hasCode(error, 'INVALID_VECTOR_FILE')).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses files naming another format, a newer version, a wrong hidden size, 2-D tensors or NaN', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-vec-'));
    const write = async (
      name: string,
      tensor: { shape: number[]; data: Float32Array },
      meta: Record<string, string>,
    ) => {
      const path = join(dir, name);
      await writeSafetensors(path, { 'layer.0': { dtype: 'F32', ...tensor } }, meta);
      return readTraitVectors(path).catch((e: unknown) => e);
    };
    const good = { shape: [2], data: new Float32Array([0.6, 0.8]) };
    const cases: [string, unknown, RegExp][] = [
      [
        'activations',
        await write('a.safetensors', good, { format: 'traitlens.activations' }),
        /metadata format is "traitlens.activations"/,
      ],
      [
        'version',
        await write('b.safetensors', good, { format: 'traitlens.trait-vectors', format_version: '9' }),
        /format version 9 is newer/,
      ],
      [
        'hidden size',
        await write('c.safetensors', good, { hidden_size: '4096' }),
        /metadata hidden_size is 4096 but the vectors have 2 values/,
      ],
      [
        '2-D',
        await write('d.safetensors', { shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) }, {}),
        /shape \[2, 2\], but a layer's vector must be one-dimensional/,
      ],
      [
        'NaN',
        await write('e.safetensors', { shape: [2], data: new Float32Array([Number.NaN, 1]) }, {}),
        /tensor "layer.0" has a non-finite component/,
      ],
      [
        'zero',
        await write('f.safetensors', { shape: [2], data: new Float32Array(2) }, {}),
        /tensor "layer.0" is all zeros/,
      ],
    ];
    for (const [label, error, pattern] of cases) {
      expect(TraitlensError.hasCode(error, 'INVALID_VECTOR_FILE'), label).toBe(true);
      expect((error as Error).message, label).toMatch(pattern);
    }
    const fine = await write('g.safetensors', good, {
      format: 'traitlens.trait-vectors',
      format_version: '1',
      hidden_size: '2',
    });
    expect(fine).toMatchObject({ metadata: { hiddenSize: 2 } });
  });
});

describe('activation files', () => {
  it('writes f16 activations with ids and a JSON twin, and reads selected tensors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-act-'));
    const path = join(dir, 'p1.safetensors');
    await writeActivationFile(
      path,
      {
        variant: 'lora',
        model: 'org/m',
        promptId: 'p1',
        hiddenSize: 2,
        promptTokenIds: new Int32Array([1, 2, 3]),
        responseTokenIds: new Int32Array([4]),
        activations: new Map([
          ['prompt.resid_post.1', new Float32Array([1, 2, 3, 4, 5, 6])],
          ['response.resid_post.1', new Float32Array([0.5, -0.5])],
        ]),
      },
      {
        promptId: 'p1',
        promptText: 'a',
        responseText: 'b',
        promptTokens: ['x', 'y', 'z'],
        responseTokens: ['w'],
      },
    );
    const all = await readActivationFile(path);
    expect(Array.from(all.promptTokenIds)).toEqual([1, 2, 3]);
    expect(all.dtype).toBe('F16');
    expect(Array.from(all.activations.get('response.resid_post.1')!)).toEqual([0.5, -0.5]);
    const some = await readActivationFile(path, (name) => name.startsWith('response.'));
    expect([...some.activations.keys()]).toEqual(['response.resid_post.1']);
    expect(JSON.parse(await readFile(join(dir, 'p1.json'), 'utf8')).responseTokens).toEqual(['w']);
  });
});
