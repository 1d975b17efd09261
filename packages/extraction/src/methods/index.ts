import { TraitlensError } from '@traitlens/core';
import { caaMethod } from './caa';
import type { AnyExtractionMethod, ExtractionMethod } from './extraction-method';
import { gradientMethod } from './gradient';
import { meanDiffMethod } from './mean-diff';
import { pcaDiffMethod } from './pca-diff';
import { probeMethod } from './probe';
import { randomBaselineMethod } from './random-baseline';

/**
 * The built-in methods, keyed by id. Adding one = one file in this folder + one line here + one test
 * (docs/adding-an-extraction-method.md). `satisfies` keeps each entry's precise option type, so
 * `ExtractionMethodId` and `ExtractionMethodOptions<'probe'>` are exact.
 */
export const extractionMethods = {
  mean_diff: meanDiffMethod,
  probe: probeMethod,
  gradient: gradientMethod,
  pca_diff: pcaDiffMethod,
  random_baseline: randomBaselineMethod,
  caa: caaMethod,
} satisfies Record<string, AnyExtractionMethod>;

export type ExtractionMethodId = keyof typeof extractionMethods;

/**
 * The methods extraction runs when none are named: every built-in except `caa`, whose raw-scale vector
 * on natural-elicitation data is `mean_diff` before normalisation (name it to get it).
 */
export const defaultExtractionMethodIds: readonly ExtractionMethodId[] = [
  'mean_diff',
  'probe',
  'gradient',
  'pca_diff',
  'random_baseline',
];

/** The option type of a built-in method. */
export type ExtractionMethodOptions<Id extends ExtractionMethodId> =
  (typeof extractionMethods)[Id] extends ExtractionMethod<infer Options> ? Options : never;

/** A set of methods by id: the built-ins plus any a caller adds. */
export type ExtractionMethodRegistry<
  Extra extends Record<string, AnyExtractionMethod> = Record<never, never>,
> = typeof extractionMethods & Extra;

/**
 * The built-in methods merged with caller-supplied ones (a new object: nothing global changes, so two
 * callers with different extra methods never see each other's). A user method may replace a built-in
 * by using its id. Each entry's key must equal its `id`.
 */
export function createMethodRegistry<Extra extends Record<string, AnyExtractionMethod>>(
  extraMethods?: Extra,
): ExtractionMethodRegistry<Extra> {
  for (const [key, method] of Object.entries(extraMethods ?? {})) {
    if (method.id !== key) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Extraction method registered as "${key}" has id "${method.id}"; use the id as the key.`,
        {
          details: { key, id: method.id },
        },
      );
    }
  }
  return { ...extractionMethods, ...extraMethods } as ExtractionMethodRegistry<Extra>;
}

/** Looks methods up by id, with an error that lists what exists. */
export function resolveExtractionMethods(
  ids: readonly string[],
  registry: Record<string, AnyExtractionMethod> = extractionMethods,
): AnyExtractionMethod[] {
  return ids.map((id) => {
    const method = registry[id];
    if (!method) {
      throw new TraitlensError(
        'UNKNOWN_METHOD',
        `Unknown extraction method "${id}". Available: ${Object.keys(registry).join(', ')}.`,
        {
          details: { method: id, available: Object.keys(registry) },
        },
      );
    }
    return method;
  });
}
