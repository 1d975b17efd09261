import { writeFileAtomic } from '@traitlens/core';

/** Rounds to `digits` significant digits (keeps zero and non-finite values as they are). */
export function roundSignificant(value: number, digits: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

function replaceValue(_key: string, item: unknown): unknown {
  if (ArrayBuffer.isView(item) && !(item instanceof DataView))
    return Array.from(item as unknown as ArrayLike<number>);
  if (item instanceof Map) return Object.fromEntries(item);
  return item;
}

/**
 * Writes analysis JSON atomically: typed arrays become plain arrays and NaN/Infinity become null (JSON has
 * no such numbers), so every consumer, Python included, reads the same thing. Large tables are written
 * compactly (`compact: true`); everything else pretty-printed for people.
 */
export async function writeAnalysisJson(
  path: string,
  value: unknown,
  options: { compact?: boolean } = {},
): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, replaceValue, options.compact ? undefined : 2)}\n`);
}
