import { existsSync } from 'node:fs';
import { mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
import { numberToBfloat16Bits } from '../numeric/float16';
import { parseSafetensors, readSafetensors } from './read-safetensors';
import { SafetensorsCheckpoint } from './safetensors-checkpoint';
import { SafetensorsFile } from './safetensors-file';
import { encodeSafetensors, writeSafetensors } from './write-safetensors';

const temporaryDirectory = () => mkdtemp(join(tmpdir(), 'traitlens-st-'));

/** Builds a safetensors file by hand from the format spec, independent of our writer. */
function handMadeFile(header: object, data: Uint8Array): Uint8Array {
  const headerBytes = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([length, headerBytes, data]);
}

describe('safetensors', () => {
  it('round-trips F32, F16, I32 and I64 tensors with string metadata', async () => {
    const dir = await temporaryDirectory();
    const path = join(dir, 'a.safetensors');
    await writeSafetensors(
      path,
      {
        'layer.0': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6.5]) },
        half: { dtype: 'F16', shape: [3], data: new Float32Array([0.5, -2, 1000]) },
        ids: { dtype: 'I32', shape: [2], data: new Int32Array([7, -1]) },
        big: { dtype: 'I64', shape: [1], data: new BigInt64Array([123n]) },
      },
      { trait: 'sycophancy', format_version: '1' },
    );
    const loaded = await readSafetensors(path);
    expect(loaded.metadata).toEqual({ trait: 'sycophancy', format_version: '1' });
    expect(Array.from(loaded.tensors.get('layer.0')!.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(loaded.tensors.get('layer.0')!.shape).toEqual([2, 3]);
    expect(Array.from(loaded.tensors.get('half')!.data)).toEqual([0.5, -2, 1000]);
    expect(loaded.tensors.get('half')!.dtype).toBe('F16');
    expect(Array.from(loaded.tensors.get('ids')!.data)).toEqual([7, -1]);
    expect(Array.from(loaded.tensors.get('big')!.data)).toEqual([123]);
    // Header is 8-byte aligned so data offsets are aligned.
    const bytes = await readFile(path);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
  });

  it('reads a hand-assembled BF16 file and single rows without loading the rest', async () => {
    const dir = await temporaryDirectory();
    const values = [1, -3, 0.5, 2, 4, 8];
    const bits = new Uint16Array(values.map(numberToBfloat16Bits));
    const file = handMadeFile(
      { w: { dtype: 'BF16', shape: [3, 2], data_offsets: [0, 12] } },
      new Uint8Array(bits.buffer),
    );
    const path = join(dir, 'bf16.safetensors');
    await writeFile(path, file);
    const opened = await SafetensorsFile.open(path);
    expect(Array.from(await opened.readFloat32('w'))).toEqual(values);
    expect(Array.from(await opened.readRowsAsFloat32('w', 1, 3))).toEqual([0.5, 2, 4, 8]);
    await opened.close();
    expect(Array.from(parseSafetensors(file).tensors.get('w')!.data)).toEqual(values);
  });

  it('reads the shared stories260k checkpoint written by the Python safetensors library', async () => {
    const path = join(import.meta.dirname, '../../../../../shared/models/stories260k/hf/model.safetensors');
    if (!existsSync(path))
      return expect.soft(path, 'shared/models/stories260k is absent; skipped').toBeTruthy();
    const file = await SafetensorsFile.open(path);
    const embedding = file.info('model.embed_tokens.weight');
    expect(embedding.shape).toEqual([512, 64]);
    const row = await file.readRowsAsFloat32('model.embed_tokens.weight', 1, 2);
    expect(row.length).toBe(64);
    expect(row.every(Number.isFinite)).toBe(true);
    await file.close();
  });

  it('opens sharded checkpoints through the index json', async () => {
    const dir = await temporaryDirectory();
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), {
      a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
    });
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), {
      b: { dtype: 'F32', shape: [1], data: new Float32Array([3]) },
    });
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        metadata: {},
        weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
      }),
    );
    const checkpoint = await SafetensorsCheckpoint.open(dir);
    expect(checkpoint.tensorNames.sort()).toEqual(['a', 'b']);
    expect(Array.from(await checkpoint.readFloat32('b'))).toEqual([3]);
    expect(Array.from(await checkpoint.readFloat32('a'))).toEqual([1, 2]);
    await expect(checkpoint.readFloat32('c')).rejects.toThrow(/no tensor "c"/);
    await checkpoint.close();
  });

  it('reports truncated files, missing files and corrupt headers clearly', async () => {
    const dir = await temporaryDirectory();
    const path = join(dir, 'cut.safetensors');
    await writeSafetensors(path, { w: { dtype: 'F32', shape: [100], data: new Float32Array(100) } });
    await truncate(path, 200);
    const error = await SafetensorsFile.open(path).catch((e: unknown) => e);
    expect(TraitlensError.hasCode(error, 'INVALID_SAFETENSORS')).toBe(true);
    expect((error as Error).message).toMatch(/truncated.*tensor "w"/);

    const missing = await SafetensorsFile.open(join(dir, 'nope.safetensors')).catch((e: unknown) => e);
    expect(TraitlensError.hasCode(missing, 'FILE_NOT_FOUND')).toBe(true);
    const noWeights = await SafetensorsCheckpoint.open(join(dir, 'empty')).catch((e: unknown) => e);
    expect((noWeights as Error).message).toMatch(/No weights in .*model\.safetensors/);

    await writeFile(join(dir, 'bad.safetensors'), handMadeFile({}, new Uint8Array()).subarray(0, 9));
    expect(
      TraitlensError.hasCode(
        await SafetensorsFile.open(join(dir, 'bad.safetensors')).catch((e: unknown) => e),
        'INVALID_SAFETENSORS',
      ),
    ).toBe(true);
    const wrongSize = handMadeFile(
      { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expect(() => parseSafetensors(wrongSize)).toThrow(/declares 8 bytes but shape \[3\] of F32 needs 12/);
    const badDtype = handMadeFile(
      { w: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expect(() => parseSafetensors(badDtype)).toThrow(TraitlensError);
  });

  it('refuses data whose length does not match the shape', () => {
    expect(() =>
      encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
    ).toThrow(/has 3 values but shape \[2, 2\] needs 4/);
  });

  it('refuses overlapping, inverted, negative and out-of-bounds tensor ranges and non-object headers', () => {
    const f32 = (offsets: number[], shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });
    const overlap = handMadeFile({ a: f32([0, 8]), b: f32([4, 12]) }, new Uint8Array(12));
    expect(() => parseSafetensors(overlap, 'x.safetensors')).toThrow(
      /x\.safetensors: tensors "a" \(bytes 0-8\) and "b" \(bytes 4-12\) overlap/,
    );
    // The same tensor range listed twice (a crafted alias), and overlap with the header order reversed.
    const alias = handMadeFile({ a: f32([0, 8]), b: f32([0, 8]) }, new Uint8Array(8));
    expect(() => parseSafetensors(alias)).toThrow(/overlap/);
    const reversed = handMadeFile({ b: f32([4, 12]), a: f32([0, 8]) }, new Uint8Array(12));
    expect(() => parseSafetensors(reversed)).toThrow(/overlap/);
    const inverted = handMadeFile(
      { a: { dtype: 'F32', shape: [0], data_offsets: [8, 8] }, b: f32([8, 0]) },
      new Uint8Array(8),
    );
    expect(() => parseSafetensors(inverted)).toThrow(/begin <= end/);
    const negative = handMadeFile({ a: f32([-8, 0]) }, new Uint8Array(8));
    expect(() => parseSafetensors(negative)).toThrow(/non-negative integers/);
    const fractional = handMadeFile({ a: f32([0.5, 8.5]) }, new Uint8Array(9));
    expect(() => parseSafetensors(fractional)).toThrow(/non-negative integers/);
    const outside = handMadeFile({ a: f32([8, 16]) }, new Uint8Array(12));
    expect(() => parseSafetensors(outside)).toThrow(/truncated/);
    const nullEntry = handMadeFile({ a: null }, new Uint8Array(0));
    expect(() => parseSafetensors(nullEntry)).toThrow(TraitlensError);
    for (const header of [[], 5, null]) {
      const bytes = handMadeFile(header as object, new Uint8Array(0));
      expect(() => parseSafetensors(bytes)).toThrow(/not a JSON object/);
    }
    // In order with a gap (alignment padding) stays readable; out-of-order offsets without overlap too.
    const gap = handMadeFile({ b: f32([16, 24]), a: f32([0, 8]) }, new Uint8Array(24));
    expect([...parseSafetensors(gap).tensors.keys()].sort()).toEqual(['a', 'b']);
  });
});
