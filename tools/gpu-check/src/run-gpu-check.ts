import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type DeviceReport, type ExecutionProviderName, probeDevice } from '@traitlens/model-runtime';
import {
  type BenchmarkShape,
  type DecodeBenchmarkResult,
  defaultBenchmarkShape,
  runDecodeBenchmark,
} from './decode-benchmark';
import { type DtypeConfig, dtypeConfigs } from './dtype-configs';
import { inspectPlacement, type PlacementReport } from './op-placement';
import { listFixtureFolders, type ParityCaseResult, runParityChecks } from './parity-checks';

export interface GpuCheckOptions {
  providers: readonly ExecutionProviderName[];
  /** Parent folder of `parity/` and `parity-lora/` (model-runtime's __fixtures__, or the pack's fixtures/). */
  fixturesDirectory: string;
  /** Dtype configs to run (default: every one the device supports). */
  dtypes?: readonly string[];
  /** Fixture folders (default all: every architecture and `llama+lora`). */
  folders?: readonly string[];
  /** Dtype configs for the decode benchmark (default: fp32 and the 70B study's int4 + fp16 compute). */
  benchmarkDtypes?: readonly string[];
  benchmark?: {
    shape?: BenchmarkShape;
    batch?: number;
    promptTokens?: number;
    steps?: number;
    repeats?: number;
  };
  skipBenchmark?: boolean;
  /** The command that starts this tool, for the placement child process; no placement check without it. */
  placementCommand?: readonly string[];
  /** Built-graph cache (default: a temporary folder, removed afterwards). */
  cacheDirectory?: string;
  threads?: number;
  log?: (line: string) => void;
}

export interface ProviderCheck {
  provider: ExecutionProviderName;
  device: DeviceReport;
  /** Configs run, and those skipped with the reason. */
  configs: Array<{ name: string; ran: boolean; reason?: string; tolerance: number }>;
  parity: ParityCaseResult[];
  decode: DecodeBenchmarkResult[];
  placement: PlacementReport[];
}

export interface GpuCheckReport {
  tool: 'traitlens gpu:check';
  startedAt: string;
  finishedAt: string;
  node: string;
  onnxruntime: string;
  platform: string;
  /** The Vulkan driver manifest WebGPU was pointed at (VK_DRIVER_FILES / VK_ICD_FILENAMES), if any. */
  vulkanDriver?: string;
  /** WebGPU ran on SwiftShader, a CPU implementation of Vulkan: its speeds say nothing about a GPU. */
  softwareVulkan: boolean;
  checks: ProviderCheck[];
  summary: {
    cases: number;
    passed: number;
    failed: number;
    skippedConfigs: number;
    /** Providers that could not run at all (the check fails). */
    unavailableProviders: ExecutionProviderName[];
  };
}

function onnxruntimeVersion(): string {
  const require = createRequire(import.meta.url);
  for (const resolve of [
    () => require('onnxruntime-node/package.json') as { version: string },
    () =>
      createRequire(require.resolve('@traitlens/model-runtime/package.json'))(
        'onnxruntime-node/package.json',
      ) as {
        version: string;
      },
  ]) {
    try {
      return resolve().version;
    } catch {
      // next candidate
    }
  }
  return 'unknown';
}

/** The configs a device can run: fp16 arithmetic only where the probe found it. */
function planConfigs(device: DeviceReport, names: readonly string[] | undefined): ProviderCheck['configs'] {
  const chosen = names?.length
    ? names.map((name) => {
        const config = dtypeConfigs.find((candidate) => candidate.name === name);
        if (!config)
          throw new Error(`unknown dtype ${name}: choose from ${dtypeConfigs.map((c) => c.name).join(', ')}`);
        return config;
      })
    : dtypeConfigs;
  return chosen.map((config) => {
    if (!device.available)
      return { name: config.name, ran: false, reason: 'provider unavailable', tolerance: config.tolerance };
    if (config.float16 && device.float16 === false)
      return {
        name: config.name,
        ran: false,
        reason: 'the device lacks shader-f16 (fp16 arithmetic)',
        tolerance: config.tolerance,
      };
    return { name: config.name, ran: true, tolerance: config.tolerance };
  });
}

function configNamed(name: string): DtypeConfig {
  return dtypeConfigs.find((config) => config.name === name)!;
}

/**
 * The whole check for each provider: probe the device, run the parity cases at every dtype it
 * supports, benchmark decoding (tok/s and host <-> device bytes per step) and record op placement.
 */
export async function runGpuCheck(options: GpuCheckOptions): Promise<GpuCheckReport> {
  const log = options.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const temporaryCache = options.cacheDirectory
    ? undefined
    : mkdtempSync(join(tmpdir(), 'traitlens-gpu-check-'));
  const cacheDirectory = options.cacheDirectory ?? temporaryCache!;
  const driver = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  const checks: ProviderCheck[] = [];
  try {
    const folders = listFixtureFolders(options.fixturesDirectory, options.folders);
    if (folders.length === 0)
      throw new Error(`no parity fixture folders found in ${options.fixturesDirectory}`);
    for (const provider of options.providers) {
      const device = await probeDevice(provider);
      log(
        `${provider}: ${device.available ? `available, fp16 arithmetic ${device.float16 ? 'yes' : 'no'}` : `unavailable (${device.failures.join('; ')})`}`,
      );
      const check: ProviderCheck = {
        provider,
        device,
        configs: planConfigs(device, options.dtypes),
        parity: [],
        decode: [],
        placement: [],
      };
      checks.push(check);
      for (const planned of check.configs) {
        if (!planned.ran) {
          log(`${provider}/${planned.name}: skipped, ${planned.reason}`);
          continue;
        }
        const results = await runParityChecks({
          provider,
          config: configNamed(planned.name),
          folders,
          cacheDirectory,
          ...(options.threads !== undefined ? { threads: options.threads } : {}),
          onWarning: (message) => log(message),
          onCase: (result) =>
            log(
              `${provider}/${result.config} ${result.folder} ${result.case}: ${result.error ? `ERROR ${result.error}` : `${result.pass ? 'ok' : 'FAIL'} ${result.worst?.toExponential(2)} (tolerance ${result.tolerance})${result.greedyIdsEqual === false ? ', greedy ids differ' : ''}`} ${result.milliseconds} ms`,
            ),
        });
        check.parity.push(...results);
      }
      const runnable = new Set(check.configs.filter((c) => c.ran).map((c) => c.name));
      if (!options.skipBenchmark && device.available) {
        const benchmarkDtypes = options.benchmarkDtypes?.length
          ? options.benchmarkDtypes
          : ['fp32', device.float16 ? 'int4-fp16' : 'int4'];
        for (const name of benchmarkDtypes) {
          if (!planConfigs(device, [name])[0]!.ran) {
            log(`${provider}/${name} decode benchmark: skipped (dtype not runnable here)`);
            continue;
          }
          log(`${provider}/${name} decode benchmark...`);
          const result = await runDecodeBenchmark({
            provider,
            config: configNamed(name),
            shape: options.benchmark?.shape ?? defaultBenchmarkShape,
            batch: options.benchmark?.batch ?? 8,
            promptTokens: options.benchmark?.promptTokens ?? 128,
            steps: options.benchmark?.steps ?? 16,
            repeats: options.benchmark?.repeats ?? 3,
            cacheDirectory,
            ...(options.threads !== undefined ? { threads: options.threads } : {}),
          });
          log(
            `${provider}/${name} decode: ${result.error ? `ERROR ${result.error}` : `${result.tokensPerSecond?.median.toFixed(1)} tok/s, ${result.hostToDeviceBytesPerStep ?? 'n/a'} B/step to the device, ${result.deviceToHostBytesPerStep ?? 'n/a'} B/step back`}`,
          );
          check.decode.push(result);
        }
      }
      if (options.placementCommand && device.available && provider !== 'cpu') {
        for (const name of [...runnable].filter((n) => n === 'fp32' || n === 'int4-fp16' || n === 'int4')) {
          const placement = inspectPlacement({
            provider,
            config: configNamed(name),
            fixturesDirectory: options.fixturesDirectory,
            cacheDirectory,
            command: options.placementCommand,
          });
          log(
            `${provider}/${name} placement: ${placement.error ? `ERROR ${placement.error}` : placement.sessions.map((s) => `${s.step}: ${JSON.stringify(s.nodes)}`).join('; ')}`,
          );
          check.placement.push(placement);
        }
      }
    }
  } finally {
    if (temporaryCache) rmSync(temporaryCache, { recursive: true, force: true });
  }
  const all = checks.flatMap((check) => check.parity);
  const passed = all.filter((result) => result.pass).length;
  return {
    tool: 'traitlens gpu:check',
    startedAt,
    finishedAt: new Date().toISOString(),
    node: process.version,
    onnxruntime: onnxruntimeVersion(),
    platform: `${process.platform}/${process.arch}`,
    ...(driver ? { vulkanDriver: basename(driver) } : {}),
    softwareVulkan: /swiftshader/i.test(driver ?? ''),
    checks,
    summary: {
      cases: all.length,
      passed,
      failed: all.length - passed,
      skippedConfigs: checks.flatMap((check) => check.configs).filter((config) => !config.ran).length,
      unavailableProviders: checks.filter((check) => !check.device.available).map((check) => check.provider),
    },
  };
}
