import type * as Ort from 'onnxruntime-node';
import { OnnxGraphBuilder, OnnxType } from '../graph/onnx-graph-builder';
import type { ExecutionProviderName } from './create-inference-session';
import { ort } from './load-onnxruntime';
import { ortLogSettings } from './ort-log-settings';

/** A device capability a model may need from its execution provider. */
export type DeviceFeature = 'shader-f16' | 'large-buffer';

/** What one probe found out about one provider. */
export interface ProviderProbe {
  provider: ExecutionProviderName;
  /** The probe ran (a session was created on the provider and its first run returned the right values). */
  ok: boolean;
  /** Why not, in ORT's words (first line). */
  reason?: string;
}

/**
 * Probes run once per process and provider: a WebGPU adapter or a CUDA library does not appear or
 * disappear while Node runs, and a probe costs a session (tens of milliseconds, an adapter request).
 */
const cache = new Map<string, Promise<ProviderProbe>>();

/** The first line of an ORT/Dawn error, without the C++ source location ORT prefixes. */
export function firstLineOf(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  const line = text.split('\n').find((l) => l.trim().length > 0) ?? text;
  return line
    .replace(/^\/onnxruntime_src\/\S+ /, '')
    .replace(/^.*Status Message: /, '')
    .replace(/^\S+\.cc:\d+ \S+ /, '')
    .replace(/^.* was false\. /, '')
    .trim();
}

function squareGraph(type: typeof OnnxType.float32 | typeof OnnxType.float16): Uint8Array {
  const builder = new OnnxGraphBuilder('unused.bin');
  const x = builder.input('x', type, [4]);
  builder.output(builder.op('Mul', [x, x]), 'y', type, [4]);
  return builder.toBytes({ '': 17 });
}

/** Expands a scalar to `elements` float32 values on the device and reads back the last one. */
function largeBufferGraph(elements: number): Uint8Array {
  const builder = new OnnxGraphBuilder('unused.bin');
  const x = builder.input('x', OnnxType.float32, [1]);
  const big = builder.op('Expand', [x, builder.constant('shape', [elements])]);
  const last = builder.op('Slice', [
    big,
    builder.constant('starts', [elements - 1]),
    builder.constant('ends', [elements]),
  ]);
  builder.output(last, 'y', OnnxType.float32, [1]);
  return builder.toBytes({ '': 17 });
}

async function runOnce(
  provider: ExecutionProviderName,
  graph: Uint8Array,
  feed: Ort.Tensor,
  expected: readonly number[],
): Promise<ProviderProbe> {
  // Outside the try: a bad TRAITLENS_ORT_LOG is the user's error, not the provider's.
  const log = ortLogSettings();
  let session: Ort.InferenceSession | undefined;
  try {
    ort.env.logLevel = log.environmentLevel;
    session = await ort.InferenceSession.create(graph, {
      executionProviders: [provider],
      // A failed probe is reported by traitlens (a fallback warning or an error); ORT's own error log
      // would only repeat it, so it stays quiet unless TRAITLENS_ORT_LOG asks otherwise.
      logSeverityLevel: process.env.TRAITLENS_ORT_LOG ? log.sessionSeverity : 4,
    });
    // Creating a session is not enough: WebGPU compiles shaders (and finds missing device features such
    // as shader-f16) only when a node first runs, so the probe runs it and checks the values.
    const output = (await session.run({ x: feed })).y;
    const values = output ? Array.from(output.data as ArrayLike<number>) : [];
    const matches =
      output?.type === 'float16'
        ? values.every((bits, i) => bits === expected[i])
        : values.length === expected.length && values.every((v, i) => v === expected[i]);
    return matches
      ? { provider, ok: true }
      : {
          provider,
          ok: false,
          reason: `the probe computed ${values.join(', ')} instead of ${expected.join(', ')}`,
        };
  } catch (cause) {
    return { provider, ok: false, reason: firstLineOf(cause) };
  } finally {
    await session?.release().catch(() => undefined);
  }
}

function cached(key: string, run: () => Promise<ProviderProbe>): Promise<ProviderProbe> {
  let probe = cache.get(key);
  if (!probe) {
    probe = run();
    cache.set(key, probe);
  }
  return probe;
}

/** Whether the provider can create a session and run an fp32 node on this machine. */
export function probeProviderAvailable(provider: ExecutionProviderName): Promise<ProviderProbe> {
  return cached(`${provider}:available`, () =>
    runOnce(
      provider,
      squareGraph(OnnxType.float32),
      new ort.Tensor('float32', Float32Array.of(1, 2, 3, -4), [4]),
      [1, 4, 9, 16],
    ),
  );
}

/**
 * Whether the provider runs fp16 arithmetic (WebGPU: the adapter's shader-f16 feature; SwiftShader and
 * some older GPUs lack it, and ORT only finds out at the first run).
 */
export function probeFloat16(provider: ExecutionProviderName): Promise<ProviderProbe> {
  // 1, 2, 3, -4 as IEEE half bits; squares 1, 4, 9, 16.
  const input = Uint16Array.of(0x3c00, 0x4000, 0x4200, 0xc400);
  return cached(`${provider}:float16`, () =>
    runOnce(
      provider,
      squareGraph(OnnxType.float16),
      new ort.Tensor('float16', input, [4]),
      [0x3c00, 0x4400, 0x4880, 0x4c00],
    ),
  );
}

/**
 * Whether the provider can hold and read a single tensor of `bytes` bytes (a WebGPU device's
 * maxBufferSize: 1 GiB on SwiftShader). Costs one write of that many bytes on the device, so callers
 * probe only sizes above what every WebGPU device guarantees (256 MiB).
 */
export function probeBufferSize(provider: ExecutionProviderName, bytes: number): Promise<ProviderProbe> {
  const elements = Math.ceil(bytes / 4);
  return cached(`${provider}:buffer:${elements}`, () =>
    runOnce(provider, largeBufferGraph(elements), new ort.Tensor('float32', Float32Array.of(7), [1]), [7]),
  );
}

/** What traitlens found out about a provider's device on this machine. */
export interface DeviceReport {
  provider: ExecutionProviderName;
  /** A session can be created and an fp32 node runs with the right result. */
  available: boolean;
  /** fp16 arithmetic runs (WebGPU: shader-f16); undefined when the provider is unavailable. */
  float16?: boolean;
  /** A tensor of `bufferBytes` bytes can be held and read (only when asked). */
  buffer?: { bytes: number; ok: boolean };
  /** ORT's words for each failed probe. */
  failures: string[];
}

/**
 * Probes a provider the way `loadModel` does before choosing it (cached per process): availability,
 * fp16 arithmetic, and optionally one buffer of `bufferBytes` (which writes that many bytes once).
 */
export async function probeDevice(
  provider: ExecutionProviderName,
  options: { bufferBytes?: number } = {},
): Promise<DeviceReport> {
  const available = await probeProviderAvailable(provider);
  if (!available.ok) return { provider, available: false, failures: [`available: ${available.reason}`] };
  const failures: string[] = [];
  const float16 = await probeFloat16(provider);
  if (!float16.ok) failures.push(`shader-f16: ${float16.reason}`);
  const report: DeviceReport = { provider, available: true, float16: float16.ok, failures };
  if (options.bufferBytes !== undefined) {
    const buffer = await probeBufferSize(provider, options.bufferBytes);
    if (!buffer.ok) failures.push(`buffer of ${options.bufferBytes} bytes: ${buffer.reason}`);
    report.buffer = { bytes: options.bufferBytes, ok: buffer.ok };
  }
  return report;
}
