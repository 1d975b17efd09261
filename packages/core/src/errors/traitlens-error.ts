/**
 * Every error traitlens throws on purpose. A code names the class of problem so callers can branch on it;
 * each has a page in docs/errors/<CODE>.md.
 */
export type TraitlensErrorCode =
  | 'FILE_NOT_FOUND'
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'INVALID_SAFETENSORS'
  | 'UNSUPPORTED_DTYPE'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'SHAPE_MISMATCH'
  | 'LAYER_OUT_OF_RANGE'
  | 'TOKENIZER_ERROR'
  | 'CHAT_TEMPLATE_ERROR'
  | 'GRAPH_BUILD_ERROR'
  | 'RUNTIME_ERROR'
  | 'PROVIDER_UNAVAILABLE'
  | 'HUB_ERROR'
  | 'HUB_AUTH_REQUIRED'
  | 'HUB_OFFLINE'
  | 'REVISION_NOT_FOUND'
  | 'INVALID_ADAPTER'
  | 'INVALID_DATASET'
  | 'INVALID_VECTOR_FILE'
  | 'MODEL_MISMATCH'
  | 'INVALID_ACTIVATION_FILE'
  | 'INVALID_EXPERIMENT'
  | 'JUDGE_ERROR'
  | 'JUDGE_AUTH_FAILED'
  | 'UNKNOWN_METHOD'
  | 'INSUFFICIENT_DATA'
  | 'TOKEN_MISMATCH'
  | 'FILE_SYSTEM_ERROR'
  | 'DISK_FULL'
  | 'LOCK_HELD';

const marker = Symbol.for('traitlens.error');

export interface TraitlensErrorOptions {
  /** The underlying error, kept for debugging; never the only explanation. */
  cause?: unknown;
  /** Structured facts about the problem (file, field, value), for programs that handle the error. */
  details?: Record<string, unknown>;
}

export class TraitlensError extends Error {
  readonly code: TraitlensErrorCode;
  readonly details: Record<string, unknown>;
  /** Survives duplicate package copies, unlike `instanceof`. */
  readonly [marker] = true;

  constructor(code: TraitlensErrorCode, message: string, options: TraitlensErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TraitlensError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /**
   * True for any TraitlensError, also one created by another copy of this package (two versions
   * installed side by side), where `instanceof` would say false.
   */
  static isInstance(value: unknown): value is TraitlensError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }

  /** True when `value` is a TraitlensError with the given code. */
  static hasCode(value: unknown, code: TraitlensErrorCode): value is TraitlensError {
    return TraitlensError.isInstance(value) && value.code === code;
  }
}
