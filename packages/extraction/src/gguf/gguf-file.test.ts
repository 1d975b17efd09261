import { describe, expect, it } from 'vitest';
import { encodeGguf, encodeGgufHeader, parseGguf } from './gguf-file';

describe('encodeGgufHeader', () => {
  it('lays out multi-dimensional tensors of any ggml type at aligned offsets, as encodeGguf does for F32', () => {
    const header = encodeGgufHeader(
      [['general.architecture', { type: 'string', value: 'llama' }]],
      [
        { name: 'blk.0.attn_q.weight', dimensions: [64, 3], ggmlType: 8, byteLength: 3 * 2 * 34 },
        { name: 'output_norm.weight', dimensions: [64n], ggmlType: 0, byteLength: 256 },
      ],
    );
    expect(header.alignment).toBe(32);
    expect(header.bytes.length % 32).toBe(0);
    // 204 bytes of Q8_0 blocks padded to 224.
    expect(header.offsets).toEqual([0n, 224n]);
    const data = new Uint8Array(224 + 256);
    new Float32Array(data.buffer, 224, 64).fill(1.5);
    const file = new Uint8Array(header.bytes.length + data.length);
    file.set(header.bytes);
    file.set(data, header.bytes.length);
    const parsed = parseGguf(file);
    expect(parsed.tensors.map((t) => [t.name, t.dimensions, t.ggmlType, t.offset])).toEqual([
      ['blk.0.attn_q.weight', [64n, 3n], 8, 0n],
      ['output_norm.weight', [64n], 0, 224n],
    ]);
    expect(Array.from(new Float32Array(parsed.tensors[1]!.bytes.slice().buffer))).toEqual(
      Array(64).fill(1.5),
    );

    // encodeGguf is the same header followed by the padded data.
    const vector = Float32Array.from([1, 2, 3]);
    const whole = encodeGguf([], [{ name: 'v', data: vector }]);
    const alone = encodeGgufHeader([], [{ name: 'v', dimensions: [3], ggmlType: 0, byteLength: 12 }]);
    expect(Buffer.from(whole.subarray(0, alone.bytes.length)).equals(Buffer.from(alone.bytes))).toBe(true);
    expect(whole.length).toBe(alone.bytes.length + 32);
  });
});
