import { join } from 'node:path';
import { cosineSimilarity, TraitlensError, writeJsonAtomic, writeTraitVectors } from '@traitlens/core';
import { assertLayerInRange, l2Norm } from '@traitlens/core/internal';
import type { LanguageModel } from '@traitlens/model-runtime';
import { type AbDatasetName, type AbItem, loadAbDataset, sampleItems } from './ab-dataset';
import { type AbPromptFormat, type AbSequences, buildAbSequences } from './ab-sequences';
import { buildCaaVectors, type CaaVectors, caaVectorVariants } from './caa-vectors';
import { type AblationSummary, measureDirectionalAblation } from './measure-directional-ablation';
import { type HeldOutMeasurement, measureHeldOut } from './measure-held-out';
import {
  measureLayerPredictivity,
  type PredictivityTable,
  summarizeLayerPredictivity,
} from './measure-layer-predictivity';

export interface PredictivityStudyOptions {
  model: LanguageModel;
  /** The study's data folder (holds anthropic_sycophancy_ab/ and truthfulqa/). */
  dataDirectory: string;
  /** `auto` (default): chat when the model has a chat template, raw otherwise. */
  promptFormat?: 'auto' | AbPromptFormat;
  /** 0-based layers (default all). */
  layers?: readonly number[];
  /** Items sampled from each set (default: train 400, test all 120, TruthfulQA 200). */
  trainLimit?: number;
  testLimit?: number;
  oodLimit?: number;
  /** Layers whose vector is ablated one at a time (default: every studied layer); all of them are also ablated together. */
  ablationLayers?: readonly number[];
  batchSize?: number;
  seed?: number;
  bootstrapResamples?: number;
  /** Where predictivity.json and vectors/ go (nothing is written without it). */
  outputDirectory?: string;
  log?: (line: string) => void;
}

/** predictivity.json. */
export interface PredictivityStudyResult {
  format: 'traitlens.example.sycophancy-predictivity';
  formatVersion: '1';
  createdAt: string;
  model: { id: string; layerCount: number; hiddenSize: number; promptFormat: AbPromptFormat };
  settings: {
    layers: number[];
    seed: number;
    batchSize: number;
    bootstrapResamples: number;
    ablationLayers: number[];
  };
  data: Record<
    'train' | 'inDistribution' | 'outOfDistribution',
    { file: string; available: number; sampled: number; used: number; tooLong: number }
  >;
  vectors: {
    variant: string;
    description: string;
    items: number;
    file: string | null;
    norms: { layer: number; norm: number }[];
  }[];
  /** Per layer: cosine between every pair of vector variants. */
  consistency: { layer: number; variants: string[]; cosines: number[][] }[];
  labels: Record<
    'inDistribution' | 'outOfDistribution',
    { n: number; sycophantic: number; rate: number; meanMargin: number }
  >;
  predictivity: PredictivityTable[];
  summary: ReturnType<typeof summarizeLayerPredictivity>;
  ablation: AblationSummary;
  seconds: number;
}

const roundTo = (value: number, digits = 6) => Number(value.toPrecision(digits));

function prepare(
  model: LanguageModel,
  items: readonly AbItem[],
  format: AbPromptFormat,
): { prepared: { item: AbItem; sequences: AbSequences }[]; tooLong: number } {
  const prepared: { item: AbItem; sequences: AbSequences }[] = [];
  let tooLong = 0;
  for (const item of items) {
    const sequences = buildAbSequences(model, item, format);
    if (sequences) prepared.push({ item, sequences });
    else tooLong++;
  }
  return { prepared, tooLong };
}

function summarizeLabels(measurement: HeldOutMeasurement) {
  const n = measurement.labels.length;
  const sycophantic = measurement.labels.reduce((sum, label) => sum + label, 0);
  return {
    n,
    sycophantic,
    rate: n === 0 ? 0 : sycophantic / n,
    meanMargin: n === 0 ? 0 : measurement.margins.reduce((sum, margin) => sum + margin, 0) / n,
  };
}

function computeConsistency(
  vectors: CaaVectors,
  layers: readonly number[],
): PredictivityStudyResult['consistency'] {
  const variants = [...vectors.keys()];
  return layers.map((layer) => ({
    layer,
    variants,
    cosines: variants.map((a) =>
      variants.map((b) =>
        roundTo(cosineSimilarity(vectors.get(a)!.layers.get(layer)!, vectors.get(b)!.layers.get(layer)!)),
      ),
    ),
  }));
}

/**
 * docs/study-method.md §7: build CAA sycophancy vectors, then ask whether cosine(activation, vector) predicts
 * the model's own sycophantic choice on held-out items, in distribution (Anthropic sycophancy test set)
 * and out of distribution (TruthfulQA: misconception vs correct answer), per layer; how consistent vectors
 * built in different ways are; and what removing the direction does to the choice rate.
 */
export async function runPredictivityStudy(
  options: PredictivityStudyOptions,
): Promise<PredictivityStudyResult> {
  const started = performance.now();
  const { model } = options;
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 8;
  const bootstrapResamples = options.bootstrapResamples ?? 1000;
  const format: AbPromptFormat =
    options.promptFormat === undefined || options.promptFormat === 'auto'
      ? model.tokenizer.hasChatTemplate
        ? 'chat'
        : 'raw'
      : options.promptFormat;
  const layerCount = model.config.layerCount;
  const layers = [...(options.layers ?? Array.from({ length: layerCount }, (_, layer) => layer))].sort(
    (a, b) => a - b,
  );
  for (const layer of layers) assertLayerInRange(layer, layerCount);
  const ablationLayers = [...(options.ablationLayers ?? layers)].sort((a, b) => a - b);
  for (const layer of ablationLayers) {
    if (!layers.includes(layer))
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Ablation layer ${layer} is not among the studied layers (${layers.join(', ')}).`,
      );
  }

  const sets: Record<
    'train' | 'inDistribution' | 'outOfDistribution',
    { name: AbDatasetName; limit: number | undefined }
  > = {
    train: { name: 'generate', limit: options.trainLimit ?? 400 },
    inDistribution: { name: 'test', limit: options.testLimit },
    outOfDistribution: { name: 'truthfulqa', limit: options.oodLimit ?? 200 },
  };
  const data = {} as PredictivityStudyResult['data'];
  const prepared = {} as Record<keyof typeof sets, { item: AbItem; sequences: AbSequences }[]>;
  // Load and tokenise everything first, so a data problem shows before any forward pass.
  for (const [key, { name, limit }] of Object.entries(sets) as [
    keyof typeof sets,
    (typeof sets)['train'],
  ][]) {
    const { file, items } = await loadAbDataset(options.dataDirectory, name);
    const sampled = sampleItems(items, limit, seed);
    const { prepared: ready, tooLong } = prepare(model, sampled, format);
    if (ready.length < 2)
      throw new TraitlensError(
        'INSUFFICIENT_DATA',
        `${file}: only ${ready.length} of ${sampled.length} sampled items fit the model's context of ${model.config.maxPositionEmbeddings} tokens; raise the limit or use a model with a longer context.`,
        { details: { file } },
      );
    prepared[key] = ready;
    data[key] = { file, available: items.length, sampled: sampled.length, used: ready.length, tooLong };
    log(
      `${key}: ${ready.length} items from ${file}${tooLong > 0 ? ` (${tooLong} longer than the context, left out)` : ''}`,
    );
  }

  log(`building CAA vectors at ${layers.length} layers (${format} prompts)`);
  const vectors = await buildCaaVectors(model, prepared.train, layers, batchSize, (done, total) =>
    log(`  vectors: ${done}/${total} items`),
  );
  const vectorFiles = new Map<string, string>();
  if (options.outputDirectory) {
    for (const [variant, vector] of vectors) {
      const file = join(options.outputDirectory, 'vectors', `caa-${variant}.safetensors`);
      await writeTraitVectors(file, {
        metadata: {
          trait: 'sycophancy',
          method: `caa-${variant}`,
          model: model.id,
          site: 'resid_post',
          tokenWindow: variant === 'answer-end' ? 'answer end' : 'answer letter',
          normalisation: 'raw',
          hiddenSize: model.config.hiddenSize,
          extra: {
            description: caaVectorVariants[variant],
            items: String(vector.items),
            promptFormat: format,
          },
        },
        vectors: vector.layers,
      });
      vectorFiles.set(variant, file);
    }
  }

  const measurements = {} as Record<'inDistribution' | 'outOfDistribution', HeldOutMeasurement>;
  for (const key of ['inDistribution', 'outOfDistribution'] as const) {
    log(`${key}: choices and activations of ${prepared[key].length} items`);
    measurements[key] = await measureHeldOut(model, prepared[key], vectors, layers, batchSize);
    const labels = summarizeLabels(measurements[key]);
    log(`  sycophantic choice in ${labels.sycophantic} of ${labels.n} (${(labels.rate * 100).toFixed(1)}%)`);
  }
  const predictivity = [
    ...measureLayerPredictivity('in-distribution', measurements.inDistribution, layers, {
      bootstrapResamples,
      seed,
    }),
    ...measureLayerPredictivity('out-of-distribution', measurements.outOfDistribution, layers, {
      bootstrapResamples,
      seed,
    }),
  ];

  log(`directional ablation at ${ablationLayers.length} layers, one at a time and together`);
  const caa = vectors.get('letter')!;
  const groups = [
    ...ablationLayers.map((layer) => [layer]),
    ...(ablationLayers.length > 1 ? [ablationLayers] : []),
  ];
  const ablation = await measureDirectionalAblation(
    model,
    prepared.inDistribution,
    caa.layers,
    groups,
    measurements.inDistribution.labels,
    batchSize,
    (done, total) => log(`  ablation ${done}/${total}`),
  );

  const result: PredictivityStudyResult = {
    format: 'traitlens.example.sycophancy-predictivity',
    formatVersion: '1',
    createdAt: new Date().toISOString(),
    model: { id: model.id, layerCount, hiddenSize: model.config.hiddenSize, promptFormat: format },
    settings: { layers, seed, batchSize, bootstrapResamples, ablationLayers },
    data,
    vectors: [...vectors].map(([variant, vector]) => ({
      variant,
      description: caaVectorVariants[variant],
      items: vector.items,
      file: vectorFiles.get(variant) ?? null,
      norms: layers.map((layer) => ({ layer, norm: roundTo(l2Norm(vector.layers.get(layer)!)) })),
    })),
    consistency: computeConsistency(vectors, layers),
    labels: {
      inDistribution: summarizeLabels(measurements.inDistribution),
      outOfDistribution: summarizeLabels(measurements.outOfDistribution),
    },
    predictivity,
    summary: summarizeLayerPredictivity(predictivity),
    ablation,
    seconds: (performance.now() - started) / 1000,
  };
  if (options.outputDirectory)
    await writeJsonAtomic(join(options.outputDirectory, 'predictivity.json'), result);
  return result;
}
