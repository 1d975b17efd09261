import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { createMetricByLayerSpec, type MetricByLayerPoint, renderPlotSvg } from '@traitlens/analysis';
import {
  cosineSimilarity,
  experimentLayout,
  readTraitVectors,
  TraitlensError,
  type TraitVectorSet,
  writeFileAtomic,
  writeJsonAtomic,
  writeTraitVectors,
} from '@traitlens/core';
import { l2Norm } from '@traitlens/core/internal';
import { vectorFilePath } from '@traitlens/extraction/internal';
import type { LanguageModel } from '@traitlens/model-runtime';
import type { PredictivityConfig } from '../config/experiment-config';
import { resolveLayers } from '../config/resolve-layers';
import { createLoraScaleView } from '../models/lora-scale-view';
import {
  type PreparedAbItem,
  prepareAbItems,
  resolveAbPromptFormat,
} from '../predictivity/build-ab-sequences';
import { buildCaaVectors, caaVectorVariants } from '../predictivity/build-caa-vectors';
import { type LayerVectors, measureAbChoices } from '../predictivity/measure-ab-choices';
import {
  type ContrastPredictivityLayer,
  measureContrastPredictivity,
} from '../predictivity/measure-contrast-predictivity';
import {
  type AblationSummary,
  measureDirectionalAblation,
} from '../predictivity/measure-directional-ablation';
import {
  measureLayerPredictivity,
  type PredictivityTable,
  summarizeLayerPredictivity,
} from '../predictivity/measure-layer-predictivity';
import { readAbItems, sampleAbItems } from '../predictivity/read-ab-items';
import { readContrastSet } from '../predictivity/read-contrast-set';
import type { StageContext, StageSummary } from './stage-context';
import { readBestMethod } from './steer-stage';

/** `<experiment>/predictivity/predictivity.json`. */
export interface PredictivityResults {
  format: 'traitlens.predictivity-study';
  formatVersion: '1';
  model: { id: string; layerCount: number; hiddenSize: number; promptFormat: 'chat' | 'raw' };
  layers: number[];
  /** Item counts per A/B file: in the file, sampled, used (the rest longer than the context). */
  data: { name: string; file: string; available: number; sampled: number; used: number; tooLong: number }[];
  /** Every vector measured: CAA variants (files under vectors/) and extracted ones. */
  vectors: {
    name: string;
    description: string;
    file: string;
    items: number | null;
    norms: { layer: number; norm: number }[];
  }[];
  /** Per layer: cosine between every pair of CAA variants. */
  consistency: { layer: number; variants: string[]; cosines: number[][] }[];
  /** Per held-out A/B set: how often the model chose the behaviour answer. */
  choices: { set: string; n: number; positives: number; rate: number; meanMargin: number }[];
  /** Held-out A/B sets: per vector, position and layer. */
  heldOut: PredictivityTable[];
  summary: ReturnType<typeof summarizeLayerPredictivity>;
  /** Free-text contrast sets: per vector and layer. */
  contrast: {
    set: string;
    file: string;
    items: number;
    vector: string;
    layers: ContrastPredictivityLayer[];
  }[];
  ablation: AblationSummary | null;
  /** The plots written beside this file. */
  plots: string[];
}

export function predictivityDirectory(experimentDirectory: string): string {
  return join(experimentDirectory, 'predictivity');
}

const roundTo = (value: number, digits = 6) => Number(value.toPrecision(digits));

/** The measured model: the instruct model without the organism's LoRA, or the extraction model. */
async function measuredModel(context: StageContext, settings: PredictivityConfig): Promise<LanguageModel> {
  if (settings.model === 'extraction') return context.models.extractionModel();
  const model = await context.models.organismModel();
  return context.experiment.sources.lora ? createLoraScaleView(model, 0) : model;
}

async function readExtractedVectors(
  context: StageContext,
  method: string,
): Promise<{ name: string; file: string; vectors: TraitVectorSet }[]> {
  const { experiment } = context;
  const layout = experimentLayout(experiment.directory);
  const found: { name: string; file: string; vectors: TraitVectorSet }[] = [];
  for (const trait of experiment.config.stages.extract?.traits ?? []) {
    const [category, name] = trait.split('/') as [string, string];
    const chosen =
      method === 'best' ? await readBestMethod(layout.extraction(category, name).evaluation, trait) : method;
    const file = vectorFilePath(layout.extraction(category, name).vectors, 'resid_post', chosen);
    found.push({ name: `${trait}:${chosen}`, file, vectors: await readTraitVectors(file) });
  }
  return found;
}

async function writePlot(
  file: string,
  points: MetricByLayerPoint[],
  title: string,
  chance: Record<string, { value: number }>,
) {
  if (points.length === 0) return false;
  await writeFileAtomic(file, await renderPlotSvg(createMetricByLayerSpec(points, { title, chance })));
  return true;
}

/**
 * The predictivity study (docs/study.md): do trait vectors predict the behaviour when the model shows it
 * on its own? CAA vectors from A/B items (and, optionally, the extract stage's vectors); on held-out A/B
 * sets, the model's own choice as the label and cosine(activation, vector) after the prompt and after the
 * answer as the predictor; on free-text contrast sets, answer vs contrastive answer; directional ablation
 * of the CAA vector; a by-layer plot per set. Writes `predictivity/` in one go at the end (vector files
 * first), so a killed run redoes the stage and writes the same bytes.
 */
export async function runPredictivityStage(context: StageContext): Promise<StageSummary> {
  const { experiment, log } = context;
  const settings = experiment.config.stages.predictivity;
  if (!settings) throw new Error('stages.predictivity is missing; runStudy should not run this stage');
  const configDirectory = dirname(experiment.file);
  const path = (file: string) => resolve(configDirectory, file);
  const output = predictivityDirectory(experiment.directory);

  // Cheap reads first: every data file and extracted vector, before the model loads.
  const caaItems = settings.caa ? await readAbItems(path(settings.caa.items)) : undefined;
  const heldOutItems = await Promise.all(settings.heldOut.map((set) => readAbItems(path(set.items))));
  const contrastItems = await Promise.all(
    settings.contrastSets.map((set) => readContrastSet(path(set.file))),
  );
  const extracted = settings.extractedMethod
    ? await readExtractedVectors(context, settings.extractedMethod)
    : [];

  const model = await measuredModel(context, settings);
  const format = resolveAbPromptFormat(model, settings.promptFormat);
  const layers = settings.layers
    ? resolveLayers(settings.layers, model.config.layerCount, 'stages.predictivity.layers')
    : Array.from({ length: model.config.layerCount }, (_, layer) => layer);
  for (const { name, vectors } of extracted)
    if (vectors.metadata.hiddenSize !== model.config.hiddenSize)
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `${name}: the vectors are ${vectors.metadata.hiddenSize} wide but ${model.id} is ${model.config.hiddenSize} wide; measure them on the model they were extracted from (stages.predictivity.model).`,
      );

  const data: PredictivityResults['data'] = [];
  const prepare = (
    name: string,
    file: string,
    items: Awaited<ReturnType<typeof readAbItems>>,
    limit: number | undefined,
  ) => {
    const sampled = sampleAbItems(items, limit, settings.seed);
    const { prepared, tooLong } = prepareAbItems(model, sampled, format);
    if (prepared.length < 2)
      throw new TraitlensError(
        'INSUFFICIENT_DATA',
        `${file}: only ${prepared.length} of ${sampled.length} sampled items fit the context of ${model.id} (${model.config.maxPositionEmbeddings} tokens); use a model with a longer context or shorter items.`,
        { details: { file } },
      );
    data.push({
      name,
      file: relative(configDirectory, file),
      available: items.length,
      sampled: sampled.length,
      used: prepared.length,
      tooLong,
    });
    log(
      `  ${name}: ${prepared.length} items${tooLong > 0 ? ` (${tooLong} longer than the context, left out)` : ''}`,
    );
    return prepared;
  };
  const caaPrepared =
    settings.caa && caaItems
      ? prepare('caa', path(settings.caa.items), caaItems, settings.caa.limit)
      : undefined;
  const heldOutPrepared = settings.heldOut.map((set, index) =>
    prepare(set.name, path(set.items), heldOutItems[index]!, set.limit),
  );

  await mkdir(join(output, 'vectors'), { recursive: true });
  const measured = new Map<string, LayerVectors>();
  const vectorRecords: PredictivityResults['vectors'] = [];
  const consistency: PredictivityResults['consistency'] = [];
  let caaLetter: LayerVectors | undefined;
  if (caaPrepared) {
    const task = context.progress?.task('predictivity: CAA vectors', {
      total: caaPrepared.length,
      unit: 'items',
    });
    const caa = await buildCaaVectors({
      model,
      items: caaPrepared,
      layers,
      batchSize: settings.batchSize,
      onProgress: (done, total) => task?.update(done, total),
    });
    task?.finish();
    for (const [variant, vector] of caa) {
      const file = join(output, 'vectors', `caa-${variant}.safetensors`);
      await writeTraitVectors(file, {
        metadata: {
          trait: 'predictivity',
          method: 'caa',
          model: model.id,
          site: 'resid_post',
          tokenWindow: variant === 'answer-end' ? 'answer end' : 'answer letter',
          normalisation: 'raw',
          hiddenSize: model.config.hiddenSize,
          extra: {
            variant,
            description: caaVectorVariants[variant],
            items: String(vector.items),
            promptFormat: format,
          },
        },
        vectors: vector.layers,
      });
      measured.set(`caa-${variant}`, vector.layers);
      vectorRecords.push({
        name: `caa-${variant}`,
        description: caaVectorVariants[variant],
        file: relative(experiment.directory, file),
        items: vector.items,
        norms: layers.map((layer) => ({ layer, norm: roundTo(l2Norm(vector.layers.get(layer)!)) })),
      });
    }
    caaLetter = caa.get('letter')?.layers;
    const variants = [...caa.keys()];
    for (const layer of layers)
      consistency.push({
        layer,
        variants: variants.map((variant) => `caa-${variant}`),
        cosines: variants.map((a) =>
          variants.map((b) =>
            roundTo(cosineSimilarity(caa.get(a)!.layers.get(layer)!, caa.get(b)!.layers.get(layer)!)),
          ),
        ),
      });
  }
  for (const { name, file, vectors } of extracted) {
    measured.set(name, vectors.vectors);
    vectorRecords.push({
      name,
      description: `extracted: ${vectors.metadata.trait}, method ${vectors.metadata.method}`,
      file: relative(experiment.directory, file),
      items: null,
      norms: layers
        .filter((layer) => vectors.vectors.has(layer))
        .map((layer) => ({ layer, norm: roundTo(l2Norm(vectors.vectors.get(layer)!)) })),
    });
  }

  const heldOut: PredictivityTable[] = [];
  const choices: PredictivityResults['choices'] = [];
  const scoreLabels = new Map<string, number[]>();
  for (const [index, set] of settings.heldOut.entries()) {
    const items = heldOutPrepared[index]!;
    const task = context.progress?.task(`predictivity: ${set.name}`, {
      total: items.length * 3,
      unit: 'steps',
    });
    const measurement = await measureAbChoices({
      model,
      items,
      vectors: measured,
      layers,
      batchSize: settings.batchSize,
      onProgress: (done, total) => task?.update(done, total),
    });
    task?.finish();
    scoreLabels.set(set.name, measurement.labels);
    const positives = measurement.labels.reduce((sum, label) => sum + label, 0);
    choices.push({
      set: set.name,
      n: measurement.labels.length,
      positives,
      rate: positives / measurement.labels.length,
      meanMargin: measurement.margins.reduce((sum, margin) => sum + margin, 0) / measurement.margins.length,
    });
    log(`  ${set.name}: behaviour answer chosen in ${positives} of ${measurement.labels.length}`);
    heldOut.push(
      ...measureLayerPredictivity({
        set: set.name,
        measurement,
        bootstrapResamples: settings.bootstrap,
        seed: settings.seed,
      }),
    );
  }

  const contrast: PredictivityResults['contrast'] = [];
  for (const [index, set] of settings.contrastSets.entries()) {
    const items = contrastItems[index]!;
    const task = context.progress?.task(`predictivity: ${set.name}`, {
      total: items.length * 2 * measured.size,
      unit: 'rows',
    });
    let offset = 0;
    for (const [name, vector] of measured) {
      const vectorLayers = layers.filter((layer) => vector.has(layer));
      const results = await measureContrastPredictivity({
        model,
        items,
        vectors: {
          metadata: {
            trait: name,
            method: name,
            model: model.id,
            site: 'resid_post',
            tokenWindow: 'answer',
            normalisation: 'raw',
            hiddenSize: model.config.hiddenSize,
          },
          vectors: new Map(vectorLayers.map((layer) => [layer, vector.get(layer)!])),
        },
        layers: vectorLayers,
        batchSize: settings.batchSize,
        onProgress: (done) => task?.update(offset + done),
      });
      offset += items.length * 2;
      contrast.push({
        set: set.name,
        file: relative(configDirectory, path(set.file)),
        items: items.length,
        vector: name,
        layers: results,
      });
    }
    task?.finish();
  }

  let ablation: AblationSummary | null = null;
  if (settings.ablation && caaLetter) {
    const setIndex = settings.heldOut.findIndex((set) => set.name === settings.ablation!.set);
    const items: PreparedAbItem[] = heldOutPrepared[setIndex]!;
    const ablationLayers = settings.ablation.layers
      ? resolveLayers(
          settings.ablation.layers,
          model.config.layerCount,
          'stages.predictivity.ablation.layers',
        )
      : layers;
    const missing = ablationLayers.filter((layer) => !layers.includes(layer));
    if (missing.length > 0)
      throw new TraitlensError(
        'INVALID_CONFIG',
        `${experiment.file}: stages.predictivity.ablation.layers ${missing.join(', ')} are not among the measured layers (${layers.join(', ')}).`,
      );
    const groups = [
      ...ablationLayers.map((layer) => [layer]),
      ...(ablationLayers.length > 1 ? [ablationLayers] : []),
    ];
    const task = context.progress?.task('predictivity: ablation', {
      total: groups.length + 1,
      unit: 'passes',
    });
    ablation = await measureDirectionalAblation({
      model,
      set: settings.ablation.set,
      items,
      vectors: caaLetter,
      layerGroups: groups,
      scoreLabels: scoreLabels.get(settings.ablation.set)!,
      batchSize: settings.batchSize,
      onProgress: (done, total) => task?.update(done, total),
    });
    task?.finish();
  }

  const plots: string[] = [];
  const chance = { value: 0.5 };
  for (const set of settings.heldOut) {
    const points = heldOut
      .filter((table) => table.set === set.name)
      .flatMap((table) =>
        table.layers
          .filter((row) => row.auroc !== null)
          .map((row) => ({
            layer: row.layer,
            series: table.vector,
            panel: table.position === 'prompt' ? 'AUROC after the prompt' : 'AUROC after the answer',
            value: row.auroc!,
          })),
      );
    const file = `${set.name}.svg`;
    if (
      await writePlot(
        join(output, file),
        points,
        `Does the vector predict the model's own choice? ${set.name}`,
        { 'AUROC after the prompt': chance, 'AUROC after the answer': chance },
      )
    )
      plots.push(file);
  }
  for (const set of settings.contrastSets) {
    const points = contrast
      .filter((entry) => entry.set === set.name)
      .flatMap((entry) =>
        entry.layers.flatMap((row) => [
          { layer: row.layer, series: entry.vector, panel: 'AUROC', value: row.auroc },
          { layer: row.layer, series: entry.vector, panel: 'point-biserial r', value: row.pointBiserialR },
        ]),
      )
      .filter((point) => Number.isFinite(point.value));
    const file = `${set.name}.svg`;
    if (
      await writePlot(join(output, file), points, `Answer vs contrastive answer: ${set.name}`, {
        AUROC: chance,
        'point-biserial r': { value: 0 },
      })
    )
      plots.push(file);
  }
  if (ablation) {
    const points = ablation.results
      .filter((result) => result.layers.length === 1)
      .map((result) => ({
        layer: result.layers[0]!,
        series: 'caa-letter',
        panel: 'change of the behaviour-choice rate',
        value: result.change,
      }));
    if (
      await writePlot(
        join(output, 'ablation.svg'),
        points,
        `Directional ablation of the CAA vector on ${ablation.set}`,
        { 'change of the behaviour-choice rate': { value: 0 } },
      )
    )
      plots.push('ablation.svg');
  }

  const results: PredictivityResults = {
    format: 'traitlens.predictivity-study',
    formatVersion: '1',
    model: {
      id: model.id,
      layerCount: model.config.layerCount,
      hiddenSize: model.config.hiddenSize,
      promptFormat: format,
    },
    layers,
    data,
    vectors: vectorRecords,
    consistency,
    choices,
    heldOut,
    summary: summarizeLayerPredictivity(heldOut),
    contrast,
    ablation,
    plots,
  };
  const file = join(output, 'predictivity.json');
  await writeJsonAtomic(file, results);
  log(`  ${relative(process.cwd(), file)}; plots ${plots.join(', ') || 'none'}`);
  const best = (entries: { vector: string; layer: number; auroc: number | null }[]) =>
    entries.filter((entry) => entry.auroc !== null).sort((a, b) => b.auroc! - a.auroc!)[0] ?? null;
  return {
    file,
    vectors: vectorRecords.length,
    choices,
    bestHeldOut: best(
      heldOut.flatMap((table) =>
        table.layers.map((row) => ({
          vector: `${table.set}/${table.position}/${table.vector}`,
          layer: row.layer,
          auroc: row.auroc,
        })),
      ),
    ),
    bestContrast: best(
      contrast.flatMap((entry) =>
        entry.layers.map((row) => ({
          vector: `${entry.set}/${entry.vector}`,
          layer: row.layer,
          auroc: row.auroc,
        })),
      ),
    ),
    ablation: ablation
      ? ablation.results.map((result) => ({ layers: result.layers, change: result.change }))
      : null,
  };
}
