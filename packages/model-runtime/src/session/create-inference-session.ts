import { TraitlensError } from '@traitlens/core';
import type * as Ort from 'onnxruntime-node';
import { ort } from './load-onnxruntime';
import { ortLogSettings } from './ort-log-settings';
import { prepackedStoreTag, preparePrepackedModel } from './prepacked-weight-store';

export type ExecutionProviderName = 'cpu' | 'cuda' | 'webgpu';

export interface SessionOptions {
  /** Providers to try in order; the first that creates a session wins (default ['cpu']). */
  providers?: readonly ExecutionProviderName[] | undefined;
  /** Intra-op threads (default: ORT's choice, all physical cores). */
  threads?: number | undefined;
  /**
   * Which GPU (0-based) the CUDA provider uses, for one process per GPU on a multi-GPU machine
   * (default: TRAITLENS_DEVICE_INDEX, else 0). WebGPU in onnxruntime-node 1.30 cannot pick an adapter
   * by index: a value above 0 with webgpu is refused (give each process one visible GPU instead).
   */
  deviceIndex?: number | undefined;
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
  logPlacement?: boolean | undefined;
  /**
   * CPU only: the sessions of one model (one per hook plan) share its weights instead of each holding
   * its own pre-packed copy (docs/decisions/0015): the packed layout ORT's kernels need (MatMulNBits,
   * Gemm) is saved once into a store beside the graph and every plan's session maps it, and no session
   * keeps a CPU memory arena between runs. Unset: each session packs its own copy and keeps its arena.
   */
  sharedWeights?: 'prepacked' | undefined;
}

export interface CreatedSession {
  session: Ort.InferenceSession;
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
  const deviceIndex = resolveDeviceIndex(options.deviceIndex);
  if (deviceIndex > 0 && providers[0] === 'webgpu')
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Device index ${deviceIndex} was asked for with the webgpu provider, but onnxruntime-node 1.30 picks the WebGPU adapter itself; give each process one visible GPU (the scheduler's GPU isolation, e.g. SLURM --gres=gpu:1 or a Kubernetes nvidia.com/gpu: 1 limit) and leave the device index at 0, or use the cuda provider.`,
      { details: { deviceIndex, provider: 'webgpu' } },
    );
  const failures: string[] = [];
  for (const provider of providers) {
    try {
      const sessionOptions: Ort.InferenceSession.SessionOptions = {
        executionProviders: [
          provider === 'cuda' && deviceIndex > 0 ? { name: 'cuda', deviceId: deviceIndex } : provider,
        ],
        graphOptimizationLevel: 'all',
        // A CPU arena keeps a run's largest activations (e.g. [B, S, vocab] logits) per session for good;
        // with one session per hook plan that was 60-90 MiB per plan for a 125M model at 4 x 128 tokens.
        // Sessions sharing their weights return it after each run instead (decision 0015; measured no
        // slower: large buffers come from mmap either way).
        enableCpuMemArena: !(provider === 'cpu' && options.sharedWeights),
        logSeverityLevel: log.sessionSeverity,
      };
      if (options.threads !== undefined) sessionOptions.intraOpNumThreads = options.threads;
      if (provider === 'webgpu' && options.deviceOutputs?.length)
        sessionOptions.preferredOutputLocation = Object.fromEntries(
          options.deviceOutputs.map((name) => [name, 'gpu-buffer' as const]),
        );
      let path = modelPath;
      if (provider === 'cpu' && options.sharedWeights === 'prepacked')
        path = await sharedPrepackedModel(modelPath, sessionOptions, options.onWarning);
      const session = await ort.InferenceSession.create(path, sessionOptions);
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

/**
 * The plan's model with its packed weights in the shared store (made on first use); the plain graph,
 * with a warning, when ORT cannot save one (each session then packs its own copy, as before).
 */
async function sharedPrepackedModel(
  graphPath: string,
  sessionOptions: Ort.InferenceSession.SessionOptions,
  onWarning: ((message: string) => void) | undefined,
): Promise<string> {
  try {
    const versions = ort.env.versions as { node?: string; common?: string } | undefined;
    return await preparePrepackedModel(graphPath, {
      tag: prepackedStoreTag(versions?.node ?? versions?.common ?? 'unknown'),
      saveOptimizedModel: async (input, outputPath, dataFileName) => {
        const saving = await ort.InferenceSession.create(input, {
          ...sessionOptions,
          optimizedModelFilePath: outputPath,
          extra: {
            session: {
              optimized_model_external_initializers_file_name: dataFileName,
              optimized_model_external_initializers_min_size_in_bytes: '1024',
              save_external_prepacked_constant_initializers: '1',
            },
          },
        });
        await saving.release();
      },
    });
  } catch (cause) {
    if (TraitlensError.hasCode(cause, 'LOCK_HELD') || TraitlensError.hasCode(cause, 'DISK_FULL')) throw cause;
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    onWarning?.(
      `traitlens: could not save the packed weights of ${graphPath} for sharing between hook plans (${reason}); this session packs its own copy, which costs memory per plan but not correctness.`,
    );
    return graphPath;
  }
}

/** The option, else TRAITLENS_DEVICE_INDEX, else 0; anything but a whole number >= 0 is refused. */
export function resolveDeviceIndex(
  option: number | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): number {
  const raw = option ?? (environment.TRAITLENS_DEVICE_INDEX?.trim() || undefined);
  if (raw === undefined) return 0;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${option === undefined ? `TRAITLENS_DEVICE_INDEX="${raw}"` : `device index ${raw}`} is not a GPU index (a whole number >= 0, e.g. 0 for the first GPU).`,
      { details: { deviceIndex: raw } },
    );
  return value;
}
