import type { Matrix } from '../numeric/matrix';
import type { ExtractionMethod, ExtractionMethodResult } from './extraction-method';
import { createSharedComputations, type SharedComputations } from './shared-computations';

/** What `runExtractionMethod` takes besides the method and the two classes' activations. */
export interface RunExtractionMethodOptions<Options extends object> {
  /** Overrides of the method's `defaultOptions`. */
  options?: Partial<Options> | undefined;
  /** Per-layer work shared across several methods (the pipeline passes one); default: a fresh one. */
  shared?: SharedComputations | undefined;
}

/**
 * Runs a method with its defaults overridden by `options`; pass `shared` to reuse per-layer work across
 * several methods (the pipeline does), or leave it out for a one-off call.
 */
export function runExtractionMethod<Options extends object>(
  method: ExtractionMethod<Options>,
  positive: Matrix,
  negative: Matrix,
  settings: RunExtractionMethodOptions<Options> = {},
): ExtractionMethodResult {
  const shared = settings.shared ?? createSharedComputations(positive, negative);
  const options = { ...method.defaultOptions, ...settings.options } as Options;
  return method.extract(positive, negative, options, shared);
}
