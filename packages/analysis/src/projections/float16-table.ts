import { float16BitsToNumber } from '@traitlens/core/internal';

let table: Float32Array | undefined;

/**
 * All 65,536 half-precision values as float32, built on first use: decoding activations becomes one
 * table lookup per element, which matters when reading gigabytes of f16 activation files.
 */
export function getFloat16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = float16BitsToNumber(bits);
  }
  return table;
}

/** Decodes f16 bits into `out` (float32) through the table. */
export function decodeFloat16(bits: Uint16Array, out: Float32Array): Float32Array {
  const lookup = getFloat16Table();
  for (let i = 0; i < bits.length; i++) out[i] = lookup[bits[i]!]!;
  return out;
}
