import { join } from 'node:path';
import {
  type HookSite,
  readTraitVectors,
  type TraitVectorMetadata,
  writeTraitVectors,
} from '@traitlens/core';
import {
  computeProjectionBaseline,
  type LayerActivationSplit,
  type LayerVector,
} from '../evaluation/evaluate-layer';
import { writeGgufControlVector } from '../gguf/gguf-control-vector';
import type { AnyExtractionMethod } from '../methods/extraction-method';
import { runExtractionMethod } from '../methods/run-extraction-method';
import { createSharedComputations } from '../methods/shared-computations';
import { selectMatrixRows } from '../numeric/matrix';
import type { TraitPolarity } from './extraction-progress';
import type { ClassSplit } from './split-train-validation';
import { computeStageKey } from './stage-key';
import type { WindowActivations } from './window-activations';

/** A method to run, with its options already merged over the defaults. */
export interface PlannedMethod {
  method: AnyExtractionMethod;
  options: object;
}

/** What every vector file says about its origin (besides method and layers). */
export interface VectorProvenance {
  trait: string;
  model: string;
  modelRevision?: string;
  datasetHash: string;
  traitlensVersion: string;
  /** llama.cpp's architecture name for GGUF exports, e.g. `llama`. */
  modelHint: string;
}

export interface ExtractVectorFilesOptions {
  activations: WindowActivations;
  split: Readonly<Record<TraitPolarity, ClassSplit>>;
  methods: readonly PlannedMethod[];
  /** The trait's vectors/ folder. */
  directory: string;
  provenance: VectorProvenance;
  exportGguf?: boolean | undefined;
  force?: boolean;
  onProgress?: (completed: number, total: number, skipped: boolean) => void;
}

export interface ExtractedVectors {
  /** method id -> layer -> vector. */
  vectors: Map<string, Map<number, LayerVector>>;
  files: string[];
  ggufFiles: string[];
  warnings: string[];
}

/** vectors/<method>.safetensors for resid_post (the study's site), vectors/<site>/<method>.safetensors otherwise. */
export function vectorFilePath(
  directory: string,
  site: HookSite,
  methodId: string,
  extension = 'safetensors',
): string {
  return site === 'resid_post'
    ? join(directory, `${methodId}.${extension}`)
    : join(directory, site, `${methodId}.${extension}`);
}

/** Train/validation matrices of one layer. */
export function selectLayerSplit(
  activations: WindowActivations,
  split: Readonly<Record<TraitPolarity, ClassSplit>>,
  layer: number,
): LayerActivationSplit {
  const positive = activations.positive.layers.get(layer)!;
  const negative = activations.negative.layers.get(layer)!;
  return {
    train: {
      positive: selectMatrixRows(positive, split.positive.train),
      negative: selectMatrixRows(negative, split.negative.train),
    },
    validation: {
      positive: selectMatrixRows(positive, split.positive.validation),
      negative: selectMatrixRows(negative, split.negative.validation),
    },
  };
}

/**
 * Runs every method at every layer on the training rows (methods share one Gram matrix per layer) and
 * writes one vector file per method. A file whose recorded inputs key matches is reused, so a rerun
 * with an extra method computes only that method.
 */
export async function extractVectorFiles(options: ExtractVectorFilesOptions): Promise<ExtractedVectors> {
  const { activations } = options;
  const work = await planMethodWork(options);
  const pending = work.filter((method) => !method.reused);
  const total = activations.layers.length * options.methods.length;
  const completed = (options.methods.length - pending.length) * activations.layers.length;
  options.onProgress?.(completed, total, pending.length === 0);
  if (pending.length > 0) computeLayerVectors(options, { pending, completed, total });
  // Reused methods first, then the computed ones (the order evaluation and warnings see them in).
  const vectors = new Map<string, Map<number, LayerVector>>();
  for (const method of [...work.filter((entry) => entry.reused), ...pending])
    vectors.set(method.planned.method.id, method.vectors);
  const files: string[] = [];
  const ggufFiles: string[] = [];
  const warnings: string[] = [];
  for (const method of work) {
    files.push(method.path);
    if (!method.reused) await writeVectorFile(options, method);
    if (options.exportGguf && (activations.site === 'resid_post' || activations.site === 'resid_pre')) {
      const exported = await exportGgufVectors(options, method);
      ggufFiles.push(exported.path);
      if (exported.warning) warnings.push(exported.warning);
    }
  }
  return { vectors, files, ggufFiles, warnings };
}

/** One method's vectors at this site: reused from its file, or computed layer by layer. */
interface MethodWork {
  planned: PlannedMethod;
  /** Inputs key of the method's vector file. */
  key: string;
  path: string;
  reused: boolean;
  vectors: Map<number, LayerVector>;
  /** Per layer, the projection baseline (filled when computed). */
  baselines: Record<number, number>;
}

async function planMethodWork(options: ExtractVectorFilesOptions): Promise<MethodWork[]> {
  const { activations, split } = options;
  const trainRows = { positive: split.positive.train, negative: split.negative.train };
  const work: MethodWork[] = [];
  for (const planned of options.methods) {
    const { method, options: methodOptions } = planned;
    const key = computeStageKey({
      activations: activations.key,
      trainRows,
      method: method.id,
      methodOptions,
    });
    const path = vectorFilePath(options.directory, activations.site, method.id);
    const reused = options.force ? undefined : await readReusableVectors(path, key);
    work.push({
      planned,
      key,
      path,
      reused: reused !== undefined,
      vectors: reused ?? new Map(),
      baselines: {},
    });
  }
  return work;
}

/** Every pending method at every layer on the training rows; methods share one Gram matrix per layer. */
function computeLayerVectors(
  options: ExtractVectorFilesOptions,
  progress: { pending: readonly MethodWork[]; completed: number; total: number },
): void {
  const { activations, split } = options;
  let { completed } = progress;
  for (const layer of activations.layers) {
    const layerSplit = selectLayerSplit(activations, split, layer);
    const shared = createSharedComputations(layerSplit.train.positive, layerSplit.train.negative);
    for (const method of progress.pending) {
      const result = runExtractionMethod(
        method.planned.method,
        layerSplit.train.positive,
        layerSplit.train.negative,
        {
          options: method.planned.options,
          shared,
        },
      );
      const layerVector: LayerVector = { vector: result.vector, details: result.details };
      if (result.bias !== undefined) layerVector.bias = result.bias;
      method.vectors.set(layer, layerVector);
      method.baselines[layer] = computeProjectionBaseline(layerSplit, result.vector);
      completed++;
      options.onProgress?.(completed, progress.total, false);
    }
  }
}

async function writeVectorFile(options: ExtractVectorFilesOptions, method: MethodWork): Promise<void> {
  const { activations, split, provenance } = options;
  const id = method.planned.method.id;
  const biases: Record<number, number> = {};
  const details: Record<number, LayerVector['details']> = {};
  for (const [layer, value] of method.vectors) {
    if (value.bias !== undefined) biases[layer] = value.bias;
    details[layer] = value.details;
  }
  const metadata: TraitVectorMetadata = {
    trait: provenance.trait,
    method: id,
    model: provenance.model,
    site: activations.site,
    tokenWindow: activations.tokenWindow,
    normalisation: method.planned.method.normalisation,
    hiddenSize: activations.hiddenSize,
    datasetHash: provenance.datasetHash,
    traitlensVersion: provenance.traitlensVersion,
    baselines: method.baselines,
    extra: {
      inputs_key: method.key,
      method_options: JSON.stringify(method.planned.options),
      method_details: JSON.stringify(details),
      train_samples: JSON.stringify({
        positive: split.positive.train.length,
        negative: split.negative.train.length,
      }),
      projection_baseline:
        'scalar projection of the midpoint of the training class means onto the unit vector',
    },
  };
  if (provenance.modelRevision) metadata.modelRevision = provenance.modelRevision;
  if (Object.keys(biases).length > 0) metadata.biases = biases;
  await writeTraitVectors(method.path, {
    metadata,
    vectors: new Map([...method.vectors].map(([layer, value]) => [layer, value.vector])),
  });
}

/** The method's llama.cpp control vector; block 0's output cannot be steered there, so it is left out. */
async function exportGgufVectors(
  options: ExtractVectorFilesOptions,
  method: MethodWork,
): Promise<{ path: string; warning?: string }> {
  const { activations, provenance } = options;
  const { site } = activations;
  const id = method.planned.method.id;
  const path = vectorFilePath(options.directory, site, id, 'gguf');
  const { skippedLayers } = await writeGgufControlVector(path, {
    modelHint: provenance.modelHint,
    site,
    vectors: new Map([...method.vectors].map(([layer, value]) => [layer, value.vector])),
    metadata: {
      'traitlens.trait': provenance.trait,
      'traitlens.method': id,
      'traitlens.model': provenance.model,
      'traitlens.site': site,
      'traitlens.token_window': activations.tokenWindow,
      'traitlens.dataset_hash': provenance.datasetHash,
      'traitlens.version': provenance.traitlensVersion,
      'traitlens.layer_mapping':
        'direction.N = resid_post of 0-based layer N (llama.cpp adds direction.N to the output of block N)',
    },
  });
  if (skippedLayers.length === 0) return { path };
  return {
    path,
    warning: `${path}: layer${skippedLayers.length === 1 ? '' : 's'} ${skippedLayers.join(', ')} left out: llama.cpp cannot steer the output of block 0 (direction.0 is invalid there).`,
  };
}

async function readReusableVectors(path: string, key: string): Promise<Map<number, LayerVector> | undefined> {
  try {
    const set = await readTraitVectors(path);
    if (set.metadata.extra?.inputs_key !== key) return undefined;
    const details = JSON.parse(set.metadata.extra.method_details ?? '{}') as Record<
      string,
      LayerVector['details']
    >;
    const out = new Map<number, LayerVector>();
    for (const [layer, vector] of set.vectors) {
      const value: LayerVector = { vector, details: details[layer] ?? {} };
      const bias = set.metadata.biases?.[layer];
      if (bias !== undefined) value.bias = bias;
      out.set(layer, value);
    }
    return out;
  } catch {
    return undefined;
  }
}
