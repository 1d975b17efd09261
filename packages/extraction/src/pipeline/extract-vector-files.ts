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
  exportGguf?: boolean;
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
  const { activations, split, provenance } = options;
  const site = activations.site;
  const trainRows = { positive: split.positive.train, negative: split.negative.train };
  const keys = new Map(
    options.methods.map(({ method, options: methodOptions }) => [
      method.id,
      computeStageKey({ activations: activations.key, trainRows, method: method.id, methodOptions }),
    ]),
  );
  const vectors = new Map<string, Map<number, LayerVector>>();
  const toCompute: PlannedMethod[] = [];
  for (const planned of options.methods) {
    const reused = options.force
      ? undefined
      : await readReusableVectors(
          vectorFilePath(options.directory, site, planned.method.id),
          keys.get(planned.method.id)!,
        );
    if (reused) vectors.set(planned.method.id, reused);
    else toCompute.push(planned);
  }
  const total = activations.layers.length * options.methods.length;
  let completed = (options.methods.length - toCompute.length) * activations.layers.length;
  options.onProgress?.(completed, total, toCompute.length === 0);
  const baselines = new Map<string, Record<number, number>>();
  for (const planned of toCompute) {
    vectors.set(planned.method.id, new Map());
    baselines.set(planned.method.id, {});
  }
  if (toCompute.length > 0) {
    for (const layer of activations.layers) {
      const layerSplit = selectLayerSplit(activations, split, layer);
      const shared = createSharedComputations(layerSplit.train.positive, layerSplit.train.negative);
      for (const planned of toCompute) {
        const result = runExtractionMethod(
          planned.method,
          layerSplit.train.positive,
          layerSplit.train.negative,
          planned.options,
          shared,
        );
        const layerVector: LayerVector = { vector: result.vector, details: result.details };
        if (result.bias !== undefined) layerVector.bias = result.bias;
        vectors.get(planned.method.id)!.set(layer, layerVector);
        baselines.get(planned.method.id)![layer] = computeProjectionBaseline(layerSplit, result.vector);
        completed++;
        options.onProgress?.(completed, total, false);
      }
    }
  }
  const files: string[] = [];
  const ggufFiles: string[] = [];
  const warnings: string[] = [];
  for (const planned of options.methods) {
    const id = planned.method.id;
    const path = vectorFilePath(options.directory, site, id);
    files.push(path);
    const layerVectors = vectors.get(id)!;
    if (toCompute.includes(planned)) {
      const biases: Record<number, number> = {};
      const details: Record<number, LayerVector['details']> = {};
      for (const [layer, value] of layerVectors) {
        if (value.bias !== undefined) biases[layer] = value.bias;
        details[layer] = value.details;
      }
      const metadata: TraitVectorMetadata = {
        trait: provenance.trait,
        method: id,
        model: provenance.model,
        site,
        tokenWindow: activations.tokenWindow,
        normalisation: planned.method.normalisation,
        hiddenSize: activations.hiddenSize,
        datasetHash: provenance.datasetHash,
        traitlensVersion: provenance.traitlensVersion,
        baselines: baselines.get(id)!,
        extra: {
          inputs_key: keys.get(id)!,
          method_options: JSON.stringify(planned.options),
          method_details: JSON.stringify(details),
          train_samples: JSON.stringify({
            positive: trainRows.positive.length,
            negative: trainRows.negative.length,
          }),
          projection_baseline:
            'scalar projection of the midpoint of the training class means onto the unit vector',
        },
      };
      if (provenance.modelRevision) metadata.modelRevision = provenance.modelRevision;
      if (Object.keys(biases).length > 0) metadata.biases = biases;
      await writeTraitVectors(path, {
        metadata,
        vectors: new Map([...layerVectors].map(([layer, value]) => [layer, value.vector])),
      });
    }
    if (options.exportGguf && (site === 'resid_post' || site === 'resid_pre')) {
      const ggufPath = vectorFilePath(options.directory, site, id, 'gguf');
      const { skippedLayers } = await writeGgufControlVector(ggufPath, {
        modelHint: provenance.modelHint,
        site,
        vectors: new Map([...layerVectors].map(([layer, value]) => [layer, value.vector])),
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
      ggufFiles.push(ggufPath);
      if (skippedLayers.length > 0) {
        warnings.push(
          `${ggufPath}: layer${skippedLayers.length === 1 ? '' : 's'} ${skippedLayers.join(', ')} left out: llama.cpp cannot steer the output of block 0 (direction.0 is invalid there).`,
        );
      }
    }
  }
  return { vectors, files, ggufFiles, warnings };
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
