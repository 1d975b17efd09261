import { createHash } from 'node:crypto';

/**
 * A short stable hash of a stage's inputs (settings, upstream keys). A stage's output records the key
 * it was made from; a rerun with the same key skips the stage, a different key redoes it.
 */
export function computeStageKey(inputs: unknown): string {
  return createHash('sha256').update(stableStringify(inputs)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted, so equal inputs always hash equally. */
function stableStringify(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableStringify(item)}`).join(',')}}`;
}
