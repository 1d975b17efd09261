export { createSeededRandom, type SeededRandom } from '@traitlens/core';

/** FNV-1a over the UTF-16 code units of `text`: derives an independent seed per tensor name. */
export function hashStringToSeed(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
