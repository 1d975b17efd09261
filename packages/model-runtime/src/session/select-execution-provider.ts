import { TraitlensError } from '@traitlens/core';
import { formatBytes } from '../plan/format-memory-plan';
import type { ExecutionProviderName } from './create-inference-session';
import {
  type DeviceFeature,
  probeBufferSize,
  probeFloat16,
  probeProviderAvailable,
} from './probe-execution-provider';

/** What a model needs from the device it runs on. */
export interface ProviderRequirements {
  /** fp16 arithmetic: `dtype: 'fp16'`, or int8/int4 weights with `computeDtype: 'fp16'`. */
  float16?: { because: string };
  /** The largest single tensor the model puts on the device (a weight), in bytes, with its name. */
  largestTensor?: { bytes: number; name: string };
}

/** Why one provider in the list was passed over. */
export interface ProviderRejection {
  provider: ExecutionProviderName;
  /** `unavailable`: no session/run at all; otherwise the device feature the model needs and lacks. */
  missing: 'unavailable' | DeviceFeature;
  /** One sentence: what was wrong. */
  reason: string;
  /** One sentence: what to do. */
  fix: string;
}

export interface ProviderSelection {
  /** The first provider in the list that can run the model. */
  provider: ExecutionProviderName;
  /** That provider and the ones after it (kept as session-creation fallbacks). */
  providers: ExecutionProviderName[];
  /** Providers earlier in the list that were passed over, and why. */
  rejected: ProviderRejection[];
}

/**
 * Every WebGPU device allows buffers of 256 MiB (the WebGPU default maxBufferSize); only larger tensors
 * are probed, since a probe writes a buffer of that size once.
 */
export const guaranteedWebGpuBufferBytes = 256 * 1024 * 1024;

function unavailableFix(provider: ExecutionProviderName): string {
  if (provider === 'webgpu')
    return 'WebGPU needs a Vulkan driver on Linux: the GPU driver\'s Vulkan ICD (NVIDIA: the "nvidia_icd.json" the driver installs) and libvulkan.so.1; on a CPU-only machine Debian\'s chromium package provides SwiftShader (see docs/gpu.md)';
  if (provider === 'cuda')
    return "install onnxruntime-node's CUDA 12 provider libraries and CUDA 12 + cuDNN 9 (see docs/gpu.md)";
  return 'see docs/gpu.md';
}

async function check(
  provider: ExecutionProviderName,
  requirements: ProviderRequirements,
): Promise<ProviderRejection | undefined> {
  // The CPU provider runs every dtype traitlens builds and has no buffer limit below host memory.
  if (provider === 'cpu') return undefined;
  const available = await probeProviderAvailable(provider);
  if (!available.ok)
    return {
      provider,
      missing: 'unavailable',
      reason: `execution provider "${provider}" is unavailable (${available.reason})`,
      fix: unavailableFix(provider),
    };
  if (requirements.float16) {
    const float16 = await probeFloat16(provider);
    if (!float16.ok)
      return {
        provider,
        missing: 'shader-f16',
        reason: `the ${provider} device does not support shader-f16 (fp16 arithmetic), which ${requirements.float16.because} needs (${float16.reason})`,
        fix: 'use --compute-dtype fp32 (computeDtype: "fp32") with int8/int4 weights, or --dtype fp32',
      };
  }
  const largest = requirements.largestTensor;
  if (provider === 'webgpu' && largest && largest.bytes > guaranteedWebGpuBufferBytes) {
    const buffer = await probeBufferSize(provider, largest.bytes);
    if (!buffer.ok)
      return {
        provider,
        missing: 'large-buffer',
        reason: `the ${provider} device cannot hold one ${formatBytes(largest.bytes)} tensor (weight "${largest.name}"), above its maxBufferSize (${buffer.reason})`,
        fix: 'use --dtype int4 (4-bit weights: about a quarter of the fp16 size per tensor) or a device with larger buffers',
      };
  }
  return undefined;
}

/**
 * Picks the first provider in `providers` that can run a model with these requirements, probing each
 * GPU provider with a tiny session whose first run must succeed (WebGPU reports a missing shader-f16
 * only then, not when the session is created). Passing a provider over is never silent: `onWarning`
 * hears why and which provider is next; when none is left, a PROVIDER_UNAVAILABLE error names what the
 * device lacks and what to do.
 */
export async function selectExecutionProvider(options: {
  providers?: readonly ExecutionProviderName[] | undefined;
  requirements?: ProviderRequirements;
  onWarning?: (message: string) => void;
}): Promise<ProviderSelection> {
  const providers = options.providers?.length ? [...options.providers] : (['cpu'] as ExecutionProviderName[]);
  const rejected: ProviderRejection[] = [];
  for (const [index, provider] of providers.entries()) {
    const rejection = await check(provider, options.requirements ?? {});
    if (!rejection) return { provider, providers: providers.slice(index), rejected };
    rejected.push(rejection);
    const next = providers[index + 1];
    if (next) options.onWarning?.(`traitlens: ${rejection.reason}; falling back to "${next}".`);
  }
  const last = rejected[rejected.length - 1]!;
  throw new TraitlensError(
    'PROVIDER_UNAVAILABLE',
    `No execution provider in [${providers.join(', ')}] can run this model: ${rejected.map((r) => r.reason).join('; ')}. To fix: ${last.fix}${providers.includes('cpu') ? '' : ', or add cpu to the provider list as a fallback'}.`,
    { details: { providers, rejected } },
  );
}
