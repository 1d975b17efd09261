import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
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
