export interface RetryPolicy {
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** Delay before the first retry (default 1000 ms); doubles each time. */
  initialDelayMs?: number;
  /** Upper bound of one delay (default 30000 ms). */
  maxDelayMs?: number;
}

export interface RetryDecision {
  retry: boolean;
  /** A delay the server asked for (Retry-After), used instead of the computed one when larger. */
  delayMs?: number;
}

/**
 * Runs `operation`, retrying failures that `decide` calls transient with exponential backoff and
 * jitter (0.5-1x of the doubled delay, so many clients that failed together do not retry together).
 * The last error is rethrown with the attempt count attached.
 */
export async function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  decide: (error: unknown) => RetryDecision,
  policy: RetryPolicy = {},
  onRetry?: (event: { attempt: number; delayMs: number; error: unknown }) => void,
): Promise<T> {
  const maxRetries = policy.maxRetries ?? 5;
  const initialDelayMs = policy.initialDelayMs ?? 1000;
  const maxDelayMs = policy.maxDelayMs ?? 30_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const decision = decide(error);
      if (!decision.retry || attempt >= maxRetries)
        throw new RetriesExhaustedError(error, { attempts: attempt + 1, wasTransient: decision.retry });
      const computed = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      const delayMs = Math.min(maxDelayMs, Math.max(computed, decision.delayMs ?? 0));
      onRetry?.({ attempt: attempt + 1, delayMs, error });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Wraps the final error of `retryWithBackoff` with how many attempts were made. */
export class RetriesExhaustedError extends Error {
  readonly attempts: number;
  /** False when the error was not retryable at all (the first attempt's error is final). */
  readonly wasTransient: boolean;

  constructor(cause: unknown, outcome: { attempts: number; wasTransient: boolean }) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'RetriesExhaustedError';
    this.attempts = outcome.attempts;
    this.wasTransient = outcome.wasTransient;
  }
}
