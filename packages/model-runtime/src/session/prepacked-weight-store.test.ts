import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProtoSchema,
} from 'onnx-buf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepackedModelPaths, prepackedStoreTag, preparePrepackedModel } from './prepacked-weight-store';

/**
 * The store logic without onnxruntime: `saveOptimizedModel` is replaced by a writer that does what ORT
 * does with `save_external_prepacked_constant_initializers` (every initializer and its packed blobs in
 * one new data file, `prepacked_<n>` entries of `<key>|<offset>;<length>;<checksum>`).
 */
interface FakeTensor {
  name: string;
  bytes: Uint8Array;
  /** Packed blobs ORT would add for this weight. */
  packed?: Uint8Array[];
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + ((i >> 8) ^ seed)) & 255;
  return out;
}

function externalTensor(name: string, length: number, entries: Array<[string, string]>) {
  return create(TensorProtoSchema, {
    name,
    dataType: 2,
    dims: [BigInt(length)],
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: entries.map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
  });
}

function model(tensors: ReturnType<typeof externalTensor>[]): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, { graph: create(GraphProtoSchema, { initializer: tensors }) }),
  );
}

describe('preparePrepackedModel', () => {
  let directory: string;
  const weightA = bytes(8192, 1);
  const weightB = bytes(100, 2);
  const weightC = bytes(6000, 3);
  const tag = 'test0000tag';
  let saves = 0;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'traitlens-prepacked-'));
    saves = 0;
    const data = new Uint8Array(8192 + 100 + 6000);
    data.set(weightA, 0);
    data.set(weightB, 8192);
    data.set(weightC, 8292);
    await writeFile(join(directory, 'weights.data'), data);
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  /** A plan graph referencing weights.data, and the fake ORT save for it. */
  async function plan(
    name: string,
    tensors: FakeTensor[],
  ): Promise<{ graph: string; save: typeof fakeSave }> {
    const offsets: Record<string, number> = { a: 0, b: 8192, c: 8292 };
    const graph = join(directory, `${name}.onnx`);
    await writeFile(
      graph,
      model(
        tensors.map((tensor) =>
          externalTensor(tensor.name, tensor.bytes.length, [
            ['location', 'weights.data'],
            ['offset', String(offsets[tensor.name])],
            ['length', String(tensor.bytes.length)],
          ]),
        ),
      ),
    );
    const fakeSave = async (_input: string, outputPath: string, dataFileName: string) => {
      saves++;
      const chunks: Uint8Array[] = [];
      let offset = 0;
      const protos = tensors.map((tensor) => {
        const entries: Array<[string, string]> = [
          ['location', dataFileName],
          ['offset', String(offset)],
          ['length', String(tensor.bytes.length)],
        ];
        chunks.push(tensor.bytes);
        offset += tensor.bytes.length;
        if (tensor.packed) {
          const blobs = tensor.packed.map((blob) => {
            chunks.push(blob);
            const entry = `${offset};${blob.length};0`;
            offset += blob.length;
            return entry;
          });
          entries.push(['prepacked_0', `MatMulNBits+42|${blobs.join('|')}`]);
        }
        return externalTensor(tensor.name, tensor.bytes.length, entries);
      });
      await writeFile(join(directory, dataFileName), Buffer.concat(chunks));
      await writeFile(outputPath, model(protos));
    };
    return { graph, save: fakeSave };
  }

  async function regionOf(path: string, tensorName: string) {
    const parsed = fromBinary(ModelProtoSchema, await readFile(path));
    const tensor = parsed.graph!.initializer.find((t) => t.name === tensorName)!;
    const entries = new Map(tensor.externalData.map((entry) => [entry.key, entry.value]));
    const file = await readFile(join(directory, entries.get('location')!));
    const offset = Number(entries.get('offset'));
    const packed = (entries.get('prepacked_0') ?? '')
      .split('|')
      .slice(1)
      .map((blob) => {
        const [start, length] = blob.split(';').map(Number) as [number, number];
        return file.subarray(start, start + length);
      });
    return {
      location: entries.get('location')!,
      offset,
      bytes: file.subarray(offset, offset + Number(entries.get('length'))),
      packed,
      key: (entries.get('prepacked_0') ?? '').split('|')[0],
    };
  }

  it('moves packed weights into one store, points unchanged weights back to weights.data, stores each blob once', async () => {
    const packedA = bytes(5000, 9);
    const packedC = bytes(3000, 10);
    const first = await plan('graph-1', [
      { name: 'a', bytes: weightA, packed: [packedA] },
      { name: 'b', bytes: weightB },
    ]);
    const modelPath = await preparePrepackedModel(first.graph, { tag, saveOptimizedModel: first.save });
    const paths = prepackedModelPaths(first.graph, tag);
    expect(modelPath).toBe(paths.model);
    const a = await regionOf(modelPath, 'a');
    expect(a.location).toBe(`prepacked-${tag}.data`);
    expect(a.offset % 4096).toBe(0);
    expect(Buffer.from(a.bytes).equals(Buffer.from(weightA))).toBe(true);
    expect(a.key).toBe('MatMulNBits+42');
    expect(a.packed).toHaveLength(1);
    expect(Buffer.from(a.packed[0]!).equals(Buffer.from(packedA))).toBe(true);
    const b = await regionOf(modelPath, 'b');
    expect(b).toMatchObject({ location: 'weights.data', offset: 8192 });
    const storeAfterOne = (await stat(paths.store)).size;
    // ORT's own per-plan data file is removed.
    expect((await readdir(directory)).filter((name) => name.includes('.partial'))).toEqual([]);

    // A second plan with the same packed weight and one more: only the new blobs are appended.
    const second = await plan('graph-2', [
      { name: 'a', bytes: weightA, packed: [packedA] },
      { name: 'b', bytes: weightB },
      { name: 'c', bytes: weightC, packed: [packedC] },
    ]);
    const secondModel = await preparePrepackedModel(second.graph, { tag, saveOptimizedModel: second.save });
    expect((await regionOf(secondModel, 'a')).offset).toBe(a.offset);
    const c = await regionOf(secondModel, 'c');
    expect(Buffer.from(c.bytes).equals(Buffer.from(weightC))).toBe(true);
    expect(Buffer.from(c.packed[0]!).equals(Buffer.from(packedC))).toBe(true);
    const storeAfterTwo = (await stat(paths.store)).size;
    expect(storeAfterTwo - storeAfterOne).toBeLessThan(weightC.length + packedC.length + 2 * 4096);

    // Found, not rebuilt, on the next load.
    expect(saves).toBe(2);
    await preparePrepackedModel(second.graph, { tag, saveOptimizedModel: second.save });
    expect(saves).toBe(2);
  });

  it('cuts a torn append (bytes past the index) before appending again', async () => {
    const packedA = bytes(5000, 9);
    const first = await plan('graph-1', [{ name: 'a', bytes: weightA, packed: [packedA] }]);
    await preparePrepackedModel(first.graph, { tag, saveOptimizedModel: first.save });
    const paths = prepackedModelPaths(first.graph, tag);
    const indexed = (await stat(paths.store)).size;
    await appendFile(paths.store, bytes(777, 5));
    const packedC = bytes(3000, 10);
    const second = await plan('graph-2', [{ name: 'c', bytes: weightC, packed: [packedC] }]);
    const secondModel = await preparePrepackedModel(second.graph, { tag, saveOptimizedModel: second.save });
    const c = await regionOf(secondModel, 'c');
    expect(c.offset).toBe(Math.ceil(indexed / 4096) * 4096);
    // The torn bytes are gone: what lies between the indexed end and the new blob is alignment padding.
    const store = await readFile(paths.store);
    expect(store.subarray(indexed, c.offset).every((value) => value === 0)).toBe(true);
    expect(Buffer.from(c.packed[0]!).equals(Buffer.from(packedC))).toBe(true);
    const index = JSON.parse(await readFile(`${paths.store}.json`, 'utf8')) as { length: number };
    expect(index.length).toBe((await stat(paths.store)).size);
  });

  it('rebuilds plan models whose store was deleted', async () => {
    const packedA = bytes(5000, 9);
    const first = await plan('graph-1', [{ name: 'a', bytes: weightA, packed: [packedA] }]);
    const paths = prepackedModelPaths(first.graph, tag);
    await preparePrepackedModel(first.graph, { tag, saveOptimizedModel: first.save });
    await rm(paths.store);
    await rm(`${paths.store}.json`);
    const again = await preparePrepackedModel(first.graph, { tag, saveOptimizedModel: first.save });
    expect(saves).toBe(2);
    const a = await regionOf(again, 'a');
    expect(Buffer.from(a.packed[0]!).equals(Buffer.from(packedA))).toBe(true);
  });

  it('tags differ by onnxruntime version', () => {
    expect(prepackedStoreTag('1.30.0')).toMatch(/^[0-9a-f]{12}$/);
    expect(prepackedStoreTag('1.30.0')).toBe(prepackedStoreTag('1.30.0'));
    expect(prepackedStoreTag('1.31.0')).not.toBe(prepackedStoreTag('1.30.0'));
  });
});
