import type { Matrix } from '../numeric/matrix';
import type { SharedComputations } from './shared-computations';

/** What a method returns for one layer. */
export interface ExtractionMethodResult {
  /** The trait direction, length D; positives should project higher than negatives. */
  vector: Float32Array;
  /** A classifier intercept where the method has one (probe). */
  bias?: number;
  /** Method-specific diagnostics (iterations, training accuracy, ...), kept in evaluation.json. */
  details: Record<string, number | string | boolean>;
}

/**
 * A trait-vector extraction method: one small object in its own file (see
 * docs/adding-an-extraction-method.md). `Options` is the method's own option type; `defaultOptions`
 * holds every default, so callers pass only what they change.
 */
export interface ExtractionMethod<Options extends object = object> {
  /** Stable id: the file name in vectors/, the CLI's --methods value. snake_case, like the study's. */
  readonly id: string;
  /** One line for `--help` and docs. */
  readonly summary: string;
  /** How the returned vectors are scaled, written into vector files (`unit` for all built-ins). */
  readonly normalisation: 'unit' | 'raw';
  readonly defaultOptions: Readonly<Options>;
  /**
   * Computes the direction from the training activations of one layer: `positive` [n_pos, D] and
   * `negative` [n_neg, D]. `shared` memoises work several methods need (class means, the Gram matrix);
   * a method may ignore it.
   */
  extract(
    positive: Matrix,
    negative: Matrix,
    options: Options,
    shared: SharedComputations,
  ): ExtractionMethodResult;
}

/** Any method, whatever its options (the type of registry entries). */
export type AnyExtractionMethod = ExtractionMethod<object>;

/** Checks a method definition at compile time while keeping its precise option type. */
export function defineExtractionMethod<Options extends object>(
  method: ExtractionMethod<Options>,
): ExtractionMethod<Options> {
  return method;
}
