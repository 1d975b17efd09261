import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import {
  createMetricByLayerSpec,
  type MetricByLayerPoint,
  readBestMethods,
  renderPlotSvg,
} from '@traitlens/analysis';
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
import { type AbItem, readAbItems, sampleAbItems } from '../predictivity/read-ab-items';
import { type ContrastItem, readContrastSet } from '../predictivity/read-contrast-set';
import type { StageContext, StageSummary } from './stage-context';

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
      method === 'best'
        ? (
            await readBestMethods(experiment.directory, {
              traits: [trait],
              requestedBy: 'stages.predictivity.extractedMethod "best"',
            })
          )[trait]!
        : method;
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

/** What the steps of one predictivity run share. */
interface PredictivityRun {
  context: StageContext;
  settings: PredictivityConfig;
  model: LanguageModel;
  format: 'chat' | 'raw';
  layers: number[];
  configDirectory: string;
  output: string;
  path: (file: string) => string;
}

/** Every data file and extracted vector, read before the model loads. */
async function readPredictivityInputs(
  context: StageContext,
  settings: PredictivityConfig,
  path: (file: string) => string,
) {
  return {
    caaItems: settings.caa ? await readAbItems(path(settings.caa.items)) : undefined,
    heldOutItems: await Promise.all(settings.heldOut.map((set) => readAbItems(path(set.items)))),
    contrastItems: await Promise.all(settings.contrastSets.map((set) => readContrastSet(path(set.file)))),
    extracted: settings.extractedMethod ? await readExtractedVectors(context, settings.extractedMethod) : [],
  };
}

/** Samples and tokenises one A/B item file; items longer than the context are counted and left out. */
function prepareItemSet(
  run: PredictivityRun,
  set: { name: string; file: string; items: AbItem[]; limit: number | undefined },
  data: PredictivityResults['data'],
): PreparedAbItem[] {
  const { model } = run;
  const sampled = sampleAbItems(set.items, set.limit, run.settings.seed);
  const { prepared, tooLong } = prepareAbItems(model, sampled, run.format);
  if (prepared.length < 2)
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `${set.file}: only ${prepared.length} of ${sampled.length} sampled items fit the context of ${model.id} (${model.config.maxPositionEmbeddings} tokens); use a model with a longer context or shorter items.`,
      { details: { file: set.file } },
    );
  data.push({
    name: set.name,
    file: relative(run.configDirectory, set.file),
    available: set.items.length,
    sampled: sampled.length,
    used: prepared.length,
    tooLong,
  });
  run.context.log(
    `  ${set.name}: ${prepared.length} items${tooLong > 0 ? ` (${tooLong} longer than the context, left out)` : ''}`,
  );
  return prepared;
}

interface MeasuredVectors {
  measured: Map<string, LayerVectors>;
  records: PredictivityResults['vectors'];
  consistency: PredictivityResults['consistency'];
  caaLetter: LayerVectors | undefined;
}

/** CAA vectors of every variant, written as `caa` vector files, with their norms and cosines per layer. */
async function buildCaaStep(run: PredictivityRun, items: readonly PreparedAbItem[], into: MeasuredVectors) {
  const { model, layers, context } = run;
  const task = context.progress?.task('predictivity: CAA vectors', { total: items.length, unit: 'items' });
  const caa = await buildCaaVectors({
    model,
    items,
    layers,
    batchSize: run.settings.batchSize,
    onProgress: (done, total) => task?.update(done, total),
  });
  task?.finish();
  for (const [variant, vector] of caa) {
    const file = join(run.output, 'vectors', `caa-${variant}.safetensors`);
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
          promptFormat: run.format,
        },
      },
      vectors: vector.layers,
    });
    into.measured.set(`caa-${variant}`, vector.layers);
    into.records.push({
      name: `caa-${variant}`,
      description: caaVectorVariants[variant],
      file: relative(context.experiment.directory, file),
      items: vector.items,
      norms: layers.map((layer) => ({ layer, norm: roundTo(l2Norm(vector.layers.get(layer)!)) })),
    });
  }
  into.caaLetter = caa.get('letter')?.layers;
  const variants = [...caa.keys()];
  for (const layer of layers)
    into.consistency.push({
      layer,
      variants: variants.map((variant) => `caa-${variant}`),
      cosines: variants.map((a) =>
        variants.map((b) =>
          roundTo(cosineSimilarity(caa.get(a)!.layers.get(layer)!, caa.get(b)!.layers.get(layer)!)),
        ),
      ),
    });
}

function addExtractedVectors(
  run: PredictivityRun,
  extracted: Awaited<ReturnType<typeof readExtractedVectors>>,
  into: MeasuredVectors,
) {
  for (const { name, file, vectors } of extracted) {
    if (vectors.metadata.hiddenSize !== run.model.config.hiddenSize)
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `${name}: the vectors are ${vectors.metadata.hiddenSize} wide but ${run.model.id} is ${run.model.config.hiddenSize} wide; measure them on the model they were extracted from (stages.predictivity.model).`,
      );
    into.measured.set(name, vectors.vectors);
    into.records.push({
      name,
      description: `extracted: ${vectors.metadata.trait}, method ${vectors.metadata.method}`,
      file: relative(run.context.experiment.directory, file),
      items: null,
      norms: run.layers
        .filter((layer) => vectors.vectors.has(layer))
        .map((layer) => ({ layer, norm: roundTo(l2Norm(vectors.vectors.get(layer)!)) })),
    });
  }
}

/** Each held-out A/B set: the model's choices, then per vector, position and layer how well cosines predict them. */
async function measureHeldOutSets(
  run: PredictivityRun,
  prepared: readonly PreparedAbItem[][],
  measured: ReadonlyMap<string, LayerVectors>,
) {
  const tables: PredictivityTable[] = [];
  const choices: PredictivityResults['choices'] = [];
  const labels = new Map<string, number[]>();
  for (const [index, set] of run.settings.heldOut.entries()) {
    const items = prepared[index]!;
    const task = run.context.progress?.task(`predictivity: ${set.name}`, {
      total: items.length * 3,
      unit: 'steps',
    });
    const measurement = await measureAbChoices({
      model: run.model,
      items,
      vectors: measured,
      layers: run.layers,
      batchSize: run.settings.batchSize,
      onProgress: (done, total) => task?.update(done, total),
    });
    task?.finish();
    labels.set(set.name, measurement.labels);
    const positives = measurement.labels.reduce((sum, label) => sum + label, 0);
    choices.push({
      set: set.name,
      n: measurement.labels.length,
      positives,
      rate: positives / measurement.labels.length,
      meanMargin: measurement.margins.reduce((sum, margin) => sum + margin, 0) / measurement.margins.length,
    });
    run.context.log(`  ${set.name}: behaviour answer chosen in ${positives} of ${measurement.labels.length}`);
    tables.push(
      ...measureLayerPredictivity({
        set: set.name,
        measurement,
        bootstrapResamples: run.settings.bootstrap,
        seed: run.settings.seed,
      }),
    );
  }
  return { tables, choices, labels };
}

/** Each free-text contrast set with every measured vector (only the layers a vector has). */
async function measureContrastSets(
  run: PredictivityRun,
  contrastItems: readonly ContrastItem[][],
  measured: ReadonlyMap<string, LayerVectors>,
) {
  const { model } = run;
  const contrast: PredictivityResults['contrast'] = [];
  for (const [index, set] of run.settings.contrastSets.entries()) {
    const items = contrastItems[index]!;
    const task = run.context.progress?.task(`predictivity: ${set.name}`, {
      total: items.length * 2 * measured.size,
      unit: 'rows',
    });
    let offset = 0;
    for (const [name, vector] of measured) {
      const vectorLayers = run.layers.filter((layer) => vector.has(layer));
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
        batchSize: run.settings.batchSize,
        onProgress: (done) => task?.update(offset + done),
      });
      offset += items.length * 2;
      contrast.push({
        set: set.name,
        file: relative(run.configDirectory, run.path(set.file)),
        items: items.length,
        vector: name,
        layers: results,
      });
    }
    task?.finish();
  }
  return contrast;
}

/** Directional ablation of `caa-letter` on the configured held-out set: each layer alone, then all. */
async function ablateCaaVector(
  run: PredictivityRun,
  ablation: NonNullable<PredictivityConfig['ablation']>,
  inputs: {
    prepared: readonly PreparedAbItem[][];
    caaLetter: LayerVectors;
    labels: ReadonlyMap<string, number[]>;
  },
): Promise<AblationSummary> {
  const { settings, model, layers } = run;
  const items = inputs.prepared[settings.heldOut.findIndex((set) => set.name === ablation.set)]!;
  const ablationLayers = ablation.layers
    ? resolveLayers(ablation.layers, model.config.layerCount, 'stages.predictivity.ablation.layers')
    : layers;
  const missing = ablationLayers.filter((layer) => !layers.includes(layer));
  if (missing.length > 0)
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${run.context.experiment.file}: stages.predictivity.ablation.layers ${missing.join(', ')} are not among the measured layers (${layers.join(', ')}).`,
    );
  const groups = [
    ...ablationLayers.map((layer) => [layer]),
    ...(ablationLayers.length > 1 ? [ablationLayers] : []),
  ];
  const task = run.context.progress?.task('predictivity: ablation', {
    total: groups.length + 1,
    unit: 'passes',
  });
  const summary = await measureDirectionalAblation({
    model,
    set: ablation.set,
    items,
    vectors: inputs.caaLetter,
    layerGroups: groups,
    scoreLabels: inputs.labels.get(ablation.set)!,
    batchSize: settings.batchSize,
    onProgress: (done, total) => task?.update(done, total),
  });
  task?.finish();
  return summary;
}

/** A by-layer plot per held-out set, per contrast set, and of the ablation. */
async function writePredictivityPlots(
  run: PredictivityRun,
  results: Pick<PredictivityResults, 'heldOut' | 'contrast' | 'ablation'>,
): Promise<string[]> {
  const plots: string[] = [];
  const chance = { value: 0.5 };
  const plot = async (
    file: string,
    points: MetricByLayerPoint[],
    title: string,
    lines: Record<string, { value: number }>,
  ) => {
    if (await writePlot(join(run.output, file), points, title, lines)) plots.push(file);
  };
  for (const set of run.settings.heldOut) {
    const points = results.heldOut
      .filter((table) => table.set === set.name)
      .flatMap((table) =>
        table.layers.flatMap(({ layer, auroc }) =>
          auroc === null
            ? []
            : [
                {
                  layer,
                  series: table.vector,
                  panel: table.position === 'prompt' ? 'AUROC after the prompt' : 'AUROC after the answer',
                  value: auroc,
                },
              ],
        ),
      );
    await plot(`${set.name}.svg`, points, `Does the vector predict the model's own choice? ${set.name}`, {
      'AUROC after the prompt': chance,
      'AUROC after the answer': chance,
    });
  }
  for (const set of run.settings.contrastSets) {
    const points = results.contrast
      .filter((entry) => entry.set === set.name)
      .flatMap((entry) =>
        entry.layers.flatMap((row) => [
          { layer: row.layer, series: entry.vector, panel: 'AUROC', value: row.auroc },
          { layer: row.layer, series: entry.vector, panel: 'point-biserial r', value: row.pointBiserialR },
        ]),
      )
      .filter((point) => Number.isFinite(point.value));
    await plot(`${set.name}.svg`, points, `Answer vs contrastive answer: ${set.name}`, {
      AUROC: chance,
      'point-biserial r': { value: 0 },
    });
  }
  if (results.ablation) {
    const panel = 'change of the behaviour-choice rate';
    const points = results.ablation.results
      .filter((result) => result.layers.length === 1)
      .map((result) => ({ layer: result.layers[0]!, series: 'caa-letter', panel, value: result.change }));
    await plot('ablation.svg', points, `Directional ablation of the CAA vector on ${results.ablation.set}`, {
      [panel]: { value: 0 },
    });
  }
  return plots;
}

/** What pipeline.json records: the best layers and the ablation changes. */
function summarizePredictivityRun(file: string, results: PredictivityResults): StageSummary {
  const best = (entries: { vector: string; layer: number; auroc: number | null }[]) =>
    entries
      .filter((entry): entry is typeof entry & { auroc: number } => entry.auroc !== null)
      .sort((a, b) => b.auroc - a.auroc)[0] ?? null;
  return {
    file,
    vectors: results.vectors.length,
    choices: results.choices,
    bestHeldOut: best(
      results.heldOut.flatMap((table) =>
        table.layers.map((row) => ({
          vector: `${table.set}/${table.position}/${table.vector}`,
          layer: row.layer,
          auroc: row.auroc,
        })),
      ),
    ),
    bestContrast: best(
      results.contrast.flatMap((entry) =>
        entry.layers.map((row) => ({
          vector: `${entry.set}/${entry.vector}`,
          layer: row.layer,
          auroc: row.auroc,
        })),
      ),
    ),
    ablation: results.ablation
      ? results.ablation.results.map((result) => ({ layers: result.layers, change: result.change }))
      : null,
  };
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
  const inputs = await readPredictivityInputs(context, settings, path);
  const model = await measuredModel(context, settings);
  const run: PredictivityRun = {
    context,
    settings,
    model,
    format: resolveAbPromptFormat(model, settings.promptFormat),
    layers: settings.layers
      ? resolveLayers(settings.layers, model.config.layerCount, 'stages.predictivity.layers')
      : Array.from({ length: model.config.layerCount }, (_, layer) => layer),
    configDirectory,
    output: predictivityDirectory(experiment.directory),
    path,
  };
  const data: PredictivityResults['data'] = [];
  const caaPrepared =
    settings.caa && inputs.caaItems
      ? prepareItemSet(
          run,
          { name: 'caa', file: path(settings.caa.items), items: inputs.caaItems, limit: settings.caa.limit },
          data,
        )
      : undefined;
  const heldOutPrepared = settings.heldOut.map((set, index) =>
    prepareItemSet(
      run,
      { name: set.name, file: path(set.items), items: inputs.heldOutItems[index]!, limit: set.limit },
      data,
    ),
  );
  await mkdir(join(run.output, 'vectors'), { recursive: true });
  const vectors: MeasuredVectors = {
    measured: new Map(),
    records: [],
    consistency: [],
    caaLetter: undefined,
  };
  if (caaPrepared) await buildCaaStep(run, caaPrepared, vectors);
  addExtractedVectors(run, inputs.extracted, vectors);
  const heldOut = await measureHeldOutSets(run, heldOutPrepared, vectors.measured);
  const contrast = await measureContrastSets(run, inputs.contrastItems, vectors.measured);
  const ablation =
    settings.ablation && vectors.caaLetter
      ? await ablateCaaVector(run, settings.ablation, {
          prepared: heldOutPrepared,
          caaLetter: vectors.caaLetter,
          labels: heldOut.labels,
        })
      : null;
  const plots = await writePredictivityPlots(run, { heldOut: heldOut.tables, contrast, ablation });
  const results: PredictivityResults = {
    format: 'traitlens.predictivity-study',
    formatVersion: '1',
    model: {
      id: model.id,
      layerCount: model.config.layerCount,
      hiddenSize: model.config.hiddenSize,
      promptFormat: run.format,
    },
    layers: run.layers,
    data,
    vectors: vectors.records,
    consistency: vectors.consistency,
    choices: heldOut.choices,
    heldOut: heldOut.tables,
    summary: summarizeLayerPredictivity(heldOut.tables),
    contrast,
    ablation,
    plots,
  };
  const file = join(run.output, 'predictivity.json');
  await writeJsonAtomic(file, results);
  log(`  ${relative(process.cwd(), file)}; plots ${plots.join(', ') || 'none'}`);
  return summarizePredictivityRun(file, results);
}
