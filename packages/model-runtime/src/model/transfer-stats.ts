import type * as ort from 'onnxruntime-node';

/** Bytes copied between host memory and the execution provider's device by a group of runs. */
export interface TransferCounts {
  /** Graph runs counted (for `decode`: decode steps, one token per row each). */
  runs: number;
  /** Feeds passed from host memory (token ids, rotary tables, masks, steering, a host-side KV cache). */
  hostToDeviceBytes: number;
  /** Outputs fetched into host memory (logits or greedy tokens, captures, projections, a host-side KV cache). */
  deviceToHostBytes: number;
}

/**
 * Host <-> device traffic of a loaded model since it was loaded or since `resetTransferStats()`. Counted
 * at the session boundary: every feed in host memory and every output fetched into host memory, and
 * nothing that stays on the device (the KV cache on WebGPU, unfetched outputs, weights). On the CPU
 * provider nothing is actually copied; the figures then say what would cross on a device.
 */
export interface TransferStats {
  /** The provider the counted runs used (undefined before the first run). */
  provider: string | undefined;
  /** `forward`, `score` and the prefill run of `generate`. */
  prefill: TransferCounts;
  /** `generate`'s decode steps: per-step bytes are `decode.hostToDeviceBytes / decode.runs`. */
  decode: TransferCounts;
  /** The last decode step alone. */
  lastDecodeStep: Omit<TransferCounts, 'runs'> | undefined;
  /** Whether the last decode step kept the KV cache on the device (true on WebGPU). */
  kvCacheOnDevice: boolean | undefined;
}

const elementBytes: Record<string, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  uint8: 1,
  int8: 1,
  bool: 1,
};

/** Bytes of a tensor if it lives in host memory, 0 if it lives on a device (gpu-buffer and the like). */
export function hostTensorBytes(tensor: ort.Tensor): number {
  if (tensor.location !== 'cpu' && tensor.location !== 'cpu-pinned') return 0;
  return tensor.size * (elementBytes[tensor.type] ?? 4);
}

function emptyCounts(): TransferCounts {
  return { runs: 0, hostToDeviceBytes: 0, deviceToHostBytes: 0 };
}

/** Accumulates TransferStats run by run. */
export class TransferCounter {
  private stats: TransferStats = TransferCounter.empty();

  private static empty(): TransferStats {
    return {
      provider: undefined,
      prefill: emptyCounts(),
      decode: emptyCounts(),
      lastDecodeStep: undefined,
      kvCacheOnDevice: undefined,
    };
  }

  /** Counts one session run: what its feeds carried to the device and its outputs back to the host. */
  record(run: {
    phase: 'prefill' | 'decode';
    provider: string;
    feeds: Iterable<ort.Tensor>;
    outputs: Iterable<ort.Tensor>;
    /** Whether the run's past key/value cache stayed on the device. */
    kvCacheOnDevice: boolean;
  }): void {
    const { phase, provider, feeds, outputs, kvCacheOnDevice } = run;
    let hostToDeviceBytes = 0;
    let deviceToHostBytes = 0;
    for (const tensor of feeds) hostToDeviceBytes += hostTensorBytes(tensor);
    for (const tensor of outputs) deviceToHostBytes += hostTensorBytes(tensor);
    const counts = this.stats[phase];
    counts.runs++;
    counts.hostToDeviceBytes += hostToDeviceBytes;
    counts.deviceToHostBytes += deviceToHostBytes;
    this.stats.provider = provider;
    if (phase === 'decode') {
      this.stats.lastDecodeStep = { hostToDeviceBytes, deviceToHostBytes };
      this.stats.kvCacheOnDevice = kvCacheOnDevice;
    }
  }

  snapshot(): TransferStats {
    const { provider, prefill, decode, lastDecodeStep, kvCacheOnDevice } = this.stats;
    return {
      provider,
      prefill: { ...prefill },
      decode: { ...decode },
      lastDecodeStep: lastDecodeStep ? { ...lastDecodeStep } : undefined,
      kvCacheOnDevice,
    };
  }

  reset(): void {
    this.stats = TransferCounter.empty();
  }
}
