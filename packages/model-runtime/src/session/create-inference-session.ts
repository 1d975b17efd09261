import { TraitlensError } from '@traitlens/core';
import * as ort from 'onnxruntime-node';
import { ortLogSettings } from './ort-log-settings';

export type ExecutionProviderName = 'cpu' | 'cuda' | 'webgpu';

export interface SessionOptions {
  /** Providers to try in order; the first that creates a session wins (default ['cpu']). */
  providers?: readonly ExecutionProviderName[];
  /** Intra-op threads (default: ORT's choice, all physical cores). */
  threads?: number;
  /** Called when a provider fails and the next is tried, so the fallback is never silent. */
  onWarning?: (message: string) => void;
  /**
   * Outputs kept in device memory ('gpu-buffer' tensors) when the session runs on WebGPU, so they can be
   * fed back as inputs without a host round trip (the KV cache); ignored on other providers.
   */
  deviceOutputs?: readonly string[];
  /**
   * Lift this session's ORT log to verbose, so ORT prints its "Node placements" (which nodes run on the
   * CPU provider instead of the GPU one) to stderr. `TRAITLENS_ORT_LOG=verbose` does the same for every
   * session.
   */
  logPlacement?: boolean;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: ExecutionProviderName;
}

/**
 * Creates an ORT session, trying providers in order. ORT itself does not fall back when a provider's
 * libraries are missing (e.g. CUDA without the provider .so files), so we do, and say so.
 */
export async function createInferenceSession(
  modelPath: string,
  options: SessionOptions = {},
): Promise<CreatedSession> {
  // ORT logs a provider's load failure itself before throwing; traitlens reports it (and the fallback)
  // through onWarning or the thrown error, so ORT's own log is limited to fatal errors unless asked
  // (TRAITLENS_ORT_LOG, logPlacement).
  const log = ortLogSettings(options.logPlacement ? { logPlacement: true } : {});
  ort.env.logLevel = log.environmentLevel;
  const providers = options.providers?.length ? options.providers : (['cpu'] as const);
  const failures: string[] = [];
  for (const provider of providers) {
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        enableCpuMemArena: true,
        logSeverityLevel: log.sessionSeverity,
      };
      if (options.threads !== undefined) sessionOptions.intraOpNumThreads = options.threads;
      if (provider === 'webgpu' && options.deviceOutputs?.length)
        sessionOptions.preferredOutputLocation = Object.fromEntries(
          options.deviceOutputs.map((name) => [name, 'gpu-buffer' as const]),
        );
      const session = await ort.InferenceSession.create(modelPath, sessionOptions);
      return { session, provider };
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
      failures.push(`${provider}: ${reason}`);
      const next = providers[providers.indexOf(provider) + 1];
      if (next)
        options.onWarning?.(
          `traitlens: execution provider "${provider}" is unavailable (${reason}); falling back to "${next}".`,
        );
    }
  }
  throw new TraitlensError(
    'PROVIDER_UNAVAILABLE',
    `No execution provider could run ${modelPath}. Tried: ${failures.join('; ')}. For CUDA, see docs/gpu.md on installing onnxruntime-node's CUDA libraries.`,
    { details: { failures } },
  );
}
