import { createHash } from 'node:crypto';
import { access, mkdir, open, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsCheckpoint, writeFileAtomic, writeJsonAtomic } from '@traitlens/core';
import type { ModelTensorNames } from '../architectures/architecture-adapter';
import { type HookPlan, hookPlanKey } from '../hooks/hook-plan';
import type { LoraAdapter } from '../lora/load-lora-adapter';
import type { ModelConfig } from '../model/model-types';
import type { QuantizationSettings } from '../quantization/quantize-blockwise';
import type { StoredWeightType, WeightManifest } from '../weights/weight-manifest';
import { embeddingIsQuantized, writeExternalWeights } from '../weights/write-external-weights';
import { buildDecoderGraph, type DecoderGraphOptions, decoderGraphVersion } from './build-decoder-graph';
import { computeWeightsKey } from './weights-key';

/** Where built graphs live: TRAITLENS_CACHE, else ~/.cache/traitlens. */
export function defaultCacheDirectory(): string {
  return (
    process.env.TRAITLENS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'traitlens')
  );
}

export interface ModelArtifacts {
  directory: string;
  manifest: WeightManifest;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export interface PrepareArtifactsOptions {
  dtype: StoredWeightType;
  quantization?: QuantizationSettings | undefined;
  lora?: { adapter: LoraAdapter; mode: 'switchable' | 'merged' } | undefined;
  cacheDirectory?: string | undefined;
  onProgress?: ((event: { done: number; total: number; weight: string }) => void) | undefined;
}

/** Converts the weights once per (checkpoint, dtype, quantization, LoRA); later loads find them in the cache. */
export async function prepareModelArtifacts(
  modelDirectory: string,
  config: ModelConfig,
  names: ModelTensorNames,
  options: PrepareArtifactsOptions,
): Promise<ModelArtifacts> {
  // `-qemb`: the embedding is quantized too (GatherBlockQuantized); older caches had a float embedding.
  // `-sym`: symmetric blocks without zero points (GGUF q4_0 / q8_0 style).
  const quantization = options.quantization
    ? `int${options.quantization.bits}-b${options.quantization.blockSize}${embeddingIsQuantized(config, options.quantization) ? '-qemb' : ''}${options.quantization.zeroPoints === false ? '-sym' : ''}`
    : 'none';
  const lora = options.lora ? `${options.lora.mode}-${options.lora.adapter.hash}` : 'none';
  const key = await computeWeightsKey(
    modelDirectory,
    options.dtype,
    `quantization=${quantization};lora=${lora}`,
  );
  const directory = join(options.cacheDirectory ?? defaultCacheDirectory(), 'graphs', key);
  const manifestPath = join(directory, 'manifest.json');
  if (await exists(manifestPath)) {
    return { directory, manifest: JSON.parse(await readFile(manifestPath, 'utf8')) as WeightManifest };
  }
  await mkdir(directory, { recursive: true });
  await withConversionLock(directory, manifestPath, async () => {
    const checkpoint = await SafetensorsCheckpoint.open(modelDirectory);
    try {
      const manifest = await writeExternalWeights({
        checkpoint,
        config,
        names,
        dataPath: join(directory, 'weights.data'),
        dtype: options.dtype,
        quantization: options.quantization,
        lora: options.lora,
        onProgress: options.onProgress,
      });
      // The manifest is written last: its presence marks a complete conversion.
      await writeJsonAtomic(manifestPath, { ...manifest, source: modelDirectory });
    } finally {
      await checkpoint.close();
    }
  });
  return { directory, manifest: JSON.parse(await readFile(manifestPath, 'utf8')) as WeightManifest };
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs a conversion while holding `conversion.lock` (created exclusively, holding the owner's pid), so
 * two processes loading the same model convert it once: the second waits for the manifest. A lock whose
 * owner died is taken over, and the conversion resumes from its recorded progress.
 */
async function withConversionLock(
  directory: string,
  manifestPath: string,
  convert: () => Promise<void>,
): Promise<void> {
  const lockPath = join(directory, 'conversion.lock');
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await exists(manifestPath)) return;
      const owner = Number(await readFile(lockPath, 'utf8').catch(() => '0'));
      // An empty lock file is one being written this instant: wait for it like a live one.
      if (owner > 0 && !isProcessAlive(owner)) await rm(lockPath, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    if (!(await exists(manifestPath))) await convert();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/** The .onnx for a hook plan, built on first use next to the weights it references. */
export async function ensureGraphForPlan(
  artifacts: ModelArtifacts,
  config: ModelConfig,
  plan: HookPlan,
  options: DecoderGraphOptions,
): Promise<string> {
  const planHash = createHash('sha256')
    .update(
      `${hookPlanKey(plan)};accuracy=${options.accuracyLevel};steerEverySite=${options.steerEverySite === true};kvCache=${options.kvCache ?? 'concat'};fusedRotary=${options.fusedRotary === true}`,
    )
    .digest('hex')
    .slice(0, 16);
  const path = join(artifacts.directory, `graph-v${decoderGraphVersion}-${planHash}.onnx`);
  if (!(await exists(path)))
    await writeFileAtomic(path, buildDecoderGraph(config, artifacts.manifest, plan, options));
  return path;
}
