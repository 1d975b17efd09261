import { describe, expect, it } from 'vitest';
import { ort } from '../session/load-onnxruntime';
import { BufferedKeyValueCache, ConcatenatedKeyValueCache } from './kv-cache';

const shape = { layerCount: 1, kvHeadCount: 2, headDim: 2, batchSize: 2, elementType: 'float32' as const };
const blocked = Number.NEGATIVE_INFINITY;

/** new_key/new_value.0 [B=2, kvH=2, S, hd=2] whose values encode (row, head, token, dim). */
function newOutputs(count: number, base: number): Record<string, ReturnType<typeof tensor>> {
  const data = new Float32Array(2 * 2 * count * 2);
  for (let i = 0; i < data.length; i++) data[i] = base + i;
  return {
    'new_key.0': tensor(data, count),
    'new_value.0': tensor(
      data.map((v) => -v),
      count,
    ),
  };
}

function tensor(data: Float32Array, count: number) {
  return new ort.Tensor('float32', data, [2, 2, count, 2]);
}

describe('BufferedKeyValueCache', () => {
  it('feeds one masked zero slot before the first write, then the whole buffer', () => {
    const cache = new BufferedKeyValueCache(shape, 4);
    expect(cache.pastSlots).toBe(1);
    expect(cache.pastFeeds()['past_key.0']!.dims).toEqual([2, 2, 1, 2]);
    // Row 0 has 2 real prompt tokens, row 1 one (then padding).
    const prompt = [Uint8Array.of(1, 1), Uint8Array.of(1, 0)];
    expect(Array.from(cache.attentionBias(prompt))).toEqual([
      ...[blocked, 0, blocked],
      ...[blocked, 0, 0],
      ...[blocked, 0, blocked],
      // Row 1's padded query sees the real token before it (its output is never read).
      ...[blocked, 0, blocked],
    ]);
    cache.append(newOutputs(2, 0), prompt);
    expect(cache.pastSlots).toBe(4);
    const past = cache.pastFeeds()['past_key.0']!;
    expect(past.dims).toEqual([2, 2, 4, 2]);
    // Row 0 head 0 holds tokens 0 and 1 in slots 0 and 1; slots 2 and 3 are still empty.
    expect(Array.from((past.data as Float32Array).subarray(0, 8))).toEqual([0, 1, 2, 3, 0, 0, 0, 0]);
    expect(Array.from((cache.pastFeeds()['past_value.0']!.data as Float32Array).subarray(8, 12))).toEqual([
      -4, -5, -6, -7,
    ]);
  });

  it('writes each step at the next slot, masks unwritten and padded slots, and refuses an overflow', () => {
    const cache = new BufferedKeyValueCache(shape, 3);
    const prompt = [Uint8Array.of(1, 1), Uint8Array.of(1, 0)];
    cache.attentionBias(prompt);
    cache.append(newOutputs(2, 0), prompt);
    const step = [Uint8Array.of(1), Uint8Array.of(1)];
    expect(Array.from(cache.attentionBias(step))).toEqual([
      ...[0, 0, blocked, 0],
      ...[0, blocked, blocked, 0],
    ]);
    const before = cache.pastFeeds()['past_key.0']!;
    cache.append(newOutputs(1, 100), step);
    // The same tensor is fed again: the step was written into it, not into a copy.
    expect(cache.pastFeeds()['past_key.0']).toBe(before);
    expect(Array.from((before.data as Float32Array).subarray(4, 6))).toEqual([100, 101]);
    // Row 1, head 0: its prompt token in slot 0, this step in slot 2.
    expect(Array.from((before.data as Float32Array).subarray(12, 14))).toEqual([8, 9]);
    expect(Array.from((before.data as Float32Array).subarray(16, 18))).toEqual([104, 105]);
    expect(() => cache.append(newOutputs(1, 0), step)).toThrow(/cannot take 1 more/);
  });
});

describe('ConcatenatedKeyValueCache', () => {
  it('feeds the last present_* and grows its slot mask past the expected size', () => {
    const cache = new ConcatenatedKeyValueCache(shape, 1);
    expect(cache.pastSlots).toBe(0);
    const prompt = [Uint8Array.of(1, 1), Uint8Array.of(1, 0)];
    expect(cache.attentionBias(prompt)).toHaveLength(2 * 2 * 2);
    const presents = {
      'present_key.0': tensor(new Float32Array(16), 2),
      'present_value.0': tensor(new Float32Array(16), 2),
    };
    cache.append(presents, prompt);
    expect(cache.pastSlots).toBe(2);
    expect(cache.pastFeeds()['past_key.0']).toBe(presents['present_key.0']);
    expect(Array.from(cache.attentionBias([Uint8Array.of(1), Uint8Array.of(1)]))).toEqual([
      ...[0, 0, 0],
      ...[0, blocked, 0],
    ]);
  });
});
