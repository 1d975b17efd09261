import type { Matrix } from '../numeric/matrix';
import type { ExtractionMethod, ExtractionMethodResult } from './extraction-method';
import { createSharedComputations, type SharedComputations } from './shared-computations';

/**
 * Runs a method with its defaults overridden by `options`; pass `shared` to reuse per-layer work across
 * several methods (the pipeline does), or leave it out for a one-off call.
 */
export function runExtractionMethod<Options extends object>(
  method: ExtractionMethod<Options>,
  positive: Matrix,
  negative: Matrix,
  options: Partial<Options> = {},
  shared: SharedComputations = createSharedComputations(positive, negative),
): ExtractionMethodResult {
  return method.extract(positive, negative, { ...method.defaultOptions, ...options } as Options, shared);
}
