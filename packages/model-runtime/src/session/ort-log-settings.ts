import { TraitlensError } from '@traitlens/core';

/** ORT's log levels, most verbose first. */
export const ortLogLevels = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;
export type OrtLogLevel = (typeof ortLogLevels)[number];

export interface OrtLogSettings {
  /** `ort.env.logLevel` (ORT applies it when the process creates its first session). */
  environmentLevel: OrtLogLevel;
  /** A session's `logSeverityLevel`: 0 verbose ... 4 fatal. */
  sessionSeverity: 0 | 1 | 2 | 3 | 4;
}

/**
 * How loud ORT may be. By default sessions log errors and the environment only fatal ones: traitlens reports provider failures and fallbacks
 * itself. `TRAITLENS_ORT_LOG=verbose` (or `debug: { logPlacement: true }` on loadModel) lifts a session's
 * log to verbose, where ORT prints "Node placements": which nodes run on the CPU and which on the GPU
 * provider, and the MemcpyFromHost/MemcpyToHost copies it inserts between them.
 */
export function ortLogSettings(options: { logPlacement?: boolean } = {}): OrtLogSettings {
  const requested = process.env.TRAITLENS_ORT_LOG?.trim().toLowerCase();
  if (requested && !(ortLogLevels as readonly string[]).includes(requested)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `TRAITLENS_ORT_LOG=${process.env.TRAITLENS_ORT_LOG} is not an ORT log level: use one of ${ortLogLevels.join(', ')} (verbose shows op placement).`,
      { details: { variable: 'TRAITLENS_ORT_LOG', value: process.env.TRAITLENS_ORT_LOG } },
    );
  }
  // Without a request, sessions log errors (3) and the environment (provider loading) only fatal ones.
  const level: OrtLogLevel = options.logPlacement
    ? 'verbose'
    : ((requested as OrtLogLevel | undefined) ?? 'error');
  return {
    environmentLevel: requested ? (requested as OrtLogLevel) : 'fatal',
    sessionSeverity: ortLogLevels.indexOf(level) as OrtLogSettings['sessionSeverity'],
  };
}
