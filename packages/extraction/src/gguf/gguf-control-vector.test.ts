import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  computeLlamaCppDirectionIndex,
  decodeGgufControlVector,
  encodeGgufControlVector,
  readGgufControlVector,
  writeGgufControlVector,
} from './gguf-control-vector';
import { encodeGguf, parseGguf } from './gguf-file';

/** A GGUF v3 image assembled by hand from the format description (ggml/docs/gguf.md), little-endian. */
function handAssembledControlVector(): Uint8Array {
  const bytes: number[] = [];
  const u32 = (v: number) => bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const u64 = (v: number) => {
    u32(v);
    u32(0);
  };
  const str = (s: string) => {
    u64(s.length);
    for (const ch of s) bytes.push(ch.charCodeAt(0));
  };
  const f32 = (v: number) => {
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, v, true);
    bytes.push(...new Uint8Array(view.buffer));
  };
  bytes.push(0x47, 0x47, 0x55, 0x46); // "GGUF"
  u32(3); // version
  u64(2); // tensors
  u64(3); // metadata entries
  str('general.architecture');
  u32(8); // string
  str('controlvector');
  str('controlvector.model_hint');
  u32(8);
  str('llama');
  str('controlvector.layer_count');
  u32(5); // int32
  u32(2);
  // tensor infos: name, n_dims, ne[0], type (0 = F32), offset into the data section
  str('direction.1');
  u32(1);
  u64(3);
  u32(0);
  u64(0);
  str('direction.4');
  u32(1);
  u64(3);
  u32(0);
  u64(32); // 12 bytes of data padded to the 32-byte alignment
  while (bytes.length % 32 !== 0) bytes.push(0);
  for (const v of [0.5, -1, 2]) f32(v);
  while (bytes.length % 32 !== 0) bytes.push(0);
  for (const v of [0, 0.25, 1e-3]) f32(v);
  while (bytes.length % 32 !== 0) bytes.push(0);
  return Uint8Array.from(bytes);
}

describe('llama.cpp GGUF control vectors', () => {
  const vectors = new Map([
    [4, Float32Array.from([0, 0.25, 1e-3])],
    [1, Float32Array.from([0.5, -1, 2])],
  ]);

  it('encodes byte for byte what the GGUF v3 spec prescribes', () => {
    const { bytes, skippedLayers } = encodeGgufControlVector({ modelHint: 'llama', vectors });
    expect(skippedLayers).toEqual([]);
    expect(Buffer.from(bytes).equals(Buffer.from(handAssembledControlVector()))).toBe(true);
  });

  it('reads the hand-assembled file back (round trip)', () => {
    const decoded = decodeGgufControlVector(handAssembledControlVector());
    expect(decoded.modelHint).toBe('llama');
    expect(decoded.layerCount).toBe(2);
    expect([...decoded.vectors.keys()]).toEqual([1, 4]);
    expect(Array.from(decoded.vectors.get(4)!)).toEqual(Array.from(Float32Array.from([0, 0.25, 1e-3])));
    expect(decoded.metadata['general.architecture']).toBe('controlvector');
  });

  it('maps traitlens layers to llama.cpp direction indices and skips what llama.cpp cannot steer', async () => {
    expect(computeLlamaCppDirectionIndex({ site: 'resid_post', layer: 5 })).toBe(5);
    expect(computeLlamaCppDirectionIndex({ site: 'resid_pre', layer: 5 })).toBe(4);
    expect(computeLlamaCppDirectionIndex({ site: 'resid_post', layer: 0 })).toBeUndefined();
    expect(() => computeLlamaCppDirectionIndex({ site: 'mlp_out', layer: 3 })).toThrow(/cannot be exported/);
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-gguf-'));
    const path = join(dir, 'probe.gguf');
    const result = await writeGgufControlVector(path, {
      modelHint: 'llama',
      vectors: new Map([...vectors, [0, Float32Array.from([9, 9, 9])]]),
      metadata: { 'traitlens.trait': 'toy/generosity', 'traitlens.method': 'probe' },
    });
    expect(result.skippedLayers).toEqual([0]);
    const read = await readGgufControlVector(path);
    expect([...read.vectors.keys()]).toEqual([1, 4]);
    expect(read.metadata['traitlens.trait']).toBe('toy/generosity');
    const raw = parseGguf(new Uint8Array(await readFile(path)));
    expect(raw.version).toBe(3);
    expect(raw.tensors.map((tensor) => Number(tensor.offset) % 32)).toEqual([0, 0]);
  });

  it('round-trips every metadata value type', () => {
    const image = encodeGguf(
      [
        ['a.u8', { type: 'uint8', value: 7 }],
        ['a.i16', { type: 'int16', value: -3 }],
        ['a.f64', { type: 'float64', value: Math.PI }],
        ['a.bool', { type: 'bool', value: true }],
        ['a.u64', { type: 'uint64', value: 2n ** 40n }],
        ['a.arr', { type: 'array', itemType: 'string', value: ['x', 'yz'] }],
        ['general.alignment', { type: 'uint32', value: 64 }],
      ],
      [{ name: 't', data: Float32Array.from([1, 2]) }],
    );
    const parsed = parseGguf(image);
    expect(parsed.alignment).toBe(64);
    expect(parsed.metadata.get('a.f64')).toEqual({ type: 'float64', value: Math.PI });
    expect(parsed.metadata.get('a.arr')).toEqual({ type: 'array', itemType: 'string', value: ['x', 'yz'] });
    expect(parsed.metadata.get('a.u64')).toEqual({ type: 'uint64', value: 2n ** 40n });
    expect(Array.from(new Float32Array(parsed.tensors[0]!.bytes.slice().buffer))).toEqual([1, 2]);
  });

  it('rejects files that are not control vectors, with the reason', () => {
    expect(() => decodeGgufControlVector(new Uint8Array([1, 2, 3, 4]), 'x.gguf')).toThrow(
      'x.gguf is not a readable GGUF file: it does not start with the GGUF magic.',
    );
    const model = encodeGguf([['general.architecture', { type: 'string', value: 'llama' }]], []);
    expect(() => decodeGgufControlVector(model, 'm.gguf')).toThrow(
      'm.gguf is a GGUF file but not a control vector (general.architecture is "llama").',
    );
  });
});
