import type { TopLevelSpec } from 'vega-lite';
import { createCosineMatrixSpec } from '../plots/cosine-matrix-spec';
import { createEffectSizeByLayerSpec } from '../plots/effect-size-by-layer-spec';
import { createEffectSizeHeatmapSpec } from '../plots/effect-size-heatmap-spec';
import { createMetricByLayerSpec } from '../plots/metric-by-layer-spec';
import { createPromptHeatmapSpec } from '../plots/prompt-heatmap-spec';
import { createRocCurveSpec } from '../plots/roc-curve-spec';
import { createSteeringSweepSpec } from '../plots/steering-sweep-spec';
import { createTrajectorySpec, type TrajectoryPoint } from '../plots/trajectory-spec';
import type { ReportInputs } from './read-report-inputs';

export type ReportSection =
  | 'model-diff'
  | 'token-view'
  | 'prompts'
  | 'detection'
  | 'predictivity'
  | 'consistency'
  | 'steering'
  | 'extraction';

export interface ReportChart {
  id: string;
  section: ReportSection;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

const finite = (value: number | null | undefined): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/** The vector and layer the report opens on: the largest model-diff effect, else the first vector. */
export function chooseFocus(inputs: ReportInputs): { vectorId: string | null; layer: number | null } {
  const top = inputs.summary?.highlights.modelDiff[0];
  if (top) return { vectorId: top.vectorId, layer: top.peakLayer };
  const detection = inputs.summary?.highlights.detection;
  const vectorId = inputs.summary?.vectors.find((vector) => !vector.isRandomBaseline)?.id ?? null;
  return { vectorId, layer: detection?.layer ?? inputs.summary?.projection.layers[0] ?? null };
}

/** Trajectory points of one token-view prompt at a layer and vector (A and B). */
export function buildTrajectoryPoints(
  inputs: ReportInputs,
  promptIndex: number,
  vectorIndex: number,
  layerIndex: number,
): TrajectoryPoint[] {
  const view = inputs.tokenView;
  const prompt = view?.prompts[promptIndex];
  if (!view || !prompt) return [];
  const variants: [string, number[][][] | null][] = [
    [inputs.summary?.variants.a ?? 'A', prompt.a],
    [inputs.summary?.variants.b ?? 'B', prompt.b],
  ];
  return variants.flatMap(([variant, values]) =>
    values
      ? (values[layerIndex]?.[vectorIndex] ?? []).map((value, position) => ({
          position,
          token: prompt.tokens[position] ?? '',
          variant,
          value,
        }))
      : [],
  );
}

/** What every section's charts read: the inputs, which vectors are traits, where the report opens. */
interface ChartContext {
  inputs: ReportInputs;
  isTrait: (vectorId: string) => boolean;
  focus: { vectorId: string | null; layer: number | null };
  maximumHeatmapPrompts: number;
}

/** Every chart the data supports, as Vega-Lite specs, in report order. */
export function buildReportCharts(
  inputs: ReportInputs,
  options: { maximumHeatmapPrompts?: number | undefined } = {},
): ReportChart[] {
  const randomIds = new Set(
    inputs.summary?.vectors.filter((vector) => vector.isRandomBaseline).map((vector) => vector.id) ?? [],
  );
  const context: ChartContext = {
    inputs,
    isTrait: (vectorId) => !randomIds.has(vectorId) && !vectorId.startsWith('random/'),
    focus: chooseFocus(inputs),
    maximumHeatmapPrompts: options.maximumHeatmapPrompts ?? 60,
  };
  return [
    ...modelDiffCharts(context),
    ...trajectoryCharts(context),
    ...promptHeatmapCharts(context),
    ...detectionCharts(context),
    ...predictivityCharts(context),
    ...consistencyCharts(context),
    ...inputs.steering.flatMap((sweep, index) => steeringCharts(sweep, index)),
    ...inputs.extraction.map((evaluation, index) => extractionChart(evaluation, index)),
  ];
}

/** Cohen's d by vector and layer (all prompts), and by layer with intervals per subset against chance. */
function modelDiffCharts({ inputs, isTrait }: ChartContext): ReportChart[] {
  const diff = inputs.modelDiff;
  const all = diff && (diff.subsets.find((subset) => subset.subset === 'all') ?? diff.subsets[0]);
  if (!diff || !all) return [];
  const charts: ReportChart[] = [];
  charts.push({
    id: 'effect-size-heatmap',
    section: 'model-diff',
    title: "Cohen's d by vector and layer",
    caption: `Cohen's d of per-response ${diff.measure} projections, ${diff.variants.b} vs ${diff.variants.a}, all ${all.promptCount} prompts; the tooltip's p is Holm-adjusted over every trait x method x layer. Rows random/* are random unit vectors: their |d| is what chance reaches.`,
    spec: createEffectSizeHeatmapSpec(
      all.entries.map((entry) => ({
        vectorId: entry.vectorId,
        layer: entry.layer,
        cohensD: entry.cohensD,
        p: Number.isFinite(entry.pHolm) ? entry.pHolm : entry.p,
      })),
    ),
  });
  const wanted = diff.subsets.some((subset) => subset.subset === 'train-groups')
    ? ['train-groups', 'held-out-groups']
    : diff.subsets.some((subset) => subset.subset === 'label=1')
      ? ['label=1', 'label=0']
      : ['all'];
  const names: Record<string, string> = {
    all: 'all prompts',
    'train-groups': 'train biases',
    'held-out-groups': 'held-out biases',
    'label=1': 'label 1',
    'label=0': 'label 0',
  };
  const points = diff.subsets
    .filter((subset) => wanted.includes(subset.subset))
    .flatMap((subset) =>
      subset.entries
        .filter((entry) => isTrait(entry.vectorId) && finite(entry.cohensD))
        .map((entry) => ({
          vectorId: entry.vectorId,
          layer: entry.layer,
          subset: names[subset.subset] ?? subset.subset,
          cohensD: entry.cohensD,
          low: entry.cohensDInterval[0],
          high: entry.cohensDInterval[1],
        })),
    );
  charts.push({
    id: 'effect-size-by-layer',
    section: 'model-diff',
    title: 'Effect size by layer',
    caption: `Cohen's d with ${Math.round(all.bootstrap.confidence * 100)}% bootstrap intervals (${all.bootstrap.resamples} resamples) per ${wanted.map((name) => names[name] ?? name).join(' vs ')}; grey band: chance, ${all.randomNull ? `the |d| that 95% of ${all.randomNull.directions} ${all.randomNull.source === 'random-directions' ? 'random directions' : 'random baseline vectors'} stay within at each layer (a finding must also beat their best layer: |d| ${all.randomNull.maxOverLayersQ95.toFixed(2)} at the 95th percentile)` : 'the largest |d| of any random vector'}. Click a legend entry to highlight a vector.`,
    spec: createEffectSizeByLayerSpec(points, {
      chanceBand: all.randomNull
        ? all.randomNull.perLayer.map((row) => ({ layer: row.layer, maxAbsD: row.q95 }))
        : all.randomBaselineMaxAbsD,
      chanceLabel: all.randomNull ? 'random 95% |d|' : 'random-vector max |d|',
    }),
  });
  return charts;
}

/** The first token-view prompt's per-token trajectory at the focus vector and layer. */
function trajectoryCharts({ inputs, focus }: ChartContext): ReportChart[] {
  const view = inputs.tokenView;
  if (!view || view.prompts.length === 0) return [];
  const vectorIndex = Math.max(0, focus.vectorId ? view.vectorIds.indexOf(focus.vectorId) : 0);
  const layerIndex = Math.max(0, focus.layer !== null ? view.layers.indexOf(focus.layer) : 0);
  const prompt = view.prompts[0]!;
  return [
    {
      id: 'trajectory',
      section: 'token-view',
      title: 'Per-token trajectory',
      caption:
        'The selected response token by token in both variants (identical tokens); shaded: annotated exploit spans. Follows the selectors above.',
      spec: createTrajectorySpec(buildTrajectoryPoints(inputs, 0, vectorIndex, layerIndex), {
        title: `${prompt.promptId}: ${view.vectorIds[vectorIndex]} at layer ${view.layers[layerIndex]}`,
        valueLabel: `${view.measure} projection`,
        spans: prompt.exploitSpans,
      }),
    },
  ];
}

/** Trait x prompt x layer heatmap of B - A (or the projection of a single variant). */
function promptHeatmapCharts({ inputs, isTrait, focus, maximumHeatmapPrompts }: ChartContext): ReportChart[] {
  const projections = inputs.projections;
  if (!projections) return [];
  const promptCount = Math.min(maximumHeatmapPrompts, projections.promptIds.length);
  const hasB = projections.values.b !== undefined;
  const cells = projections.vectorIds.flatMap((vectorId, k) =>
    isTrait(vectorId)
      ? projections.layers.flatMap((layer, l) =>
          Array.from({ length: promptCount }, (_, p) => {
            const a = projections.values.a[k]?.[l]?.[p] ?? null;
            const b = projections.values.b?.[k]?.[l]?.[p] ?? null;
            const value = hasB ? (a === null || b === null ? null : b - a) : a;
            return { promptId: projections.promptIds[p]!, vectorId, layer, value: value ?? Number.NaN };
          }).filter((cell) => finite(cell.value)),
        )
      : [],
  );
  return [
    {
      id: 'prompt-heatmap',
      section: 'prompts',
      title: 'Trait x prompt x layer',
      caption: `${hasB ? 'B - A' : 'Per-response'} ${projections.measure} projection (${projections.aggregation} over ${projections.part} tokens) for the first ${promptCount} of ${projections.promptIds.length} prompts; the slider picks the layer.`,
      spec: createPromptHeatmapSpec(cells, projections.layers, {
        valueLabel: hasB ? 'B - A' : projections.measure,
        ...(focus.layer !== null ? { initialLayer: focus.layer } : {}),
      }),
    },
  ];
}

/** Detection AUROC and accuracy by layer against chance, and the ROC curves. */
function detectionCharts({ inputs }: ChartContext): ReportChart[] {
  const detection = inputs.detection;
  if (!detection) return [];
  const points = detection.perLayer.flatMap((row) => [
    {
      layer: row.layer,
      series: `trait vectors (${row.traitFeatures})`,
      panel: 'cross-validated AUROC',
      value: row.cvAuroc,
    },
    {
      layer: row.layer,
      series: `random vectors (${row.randomFeatures})`,
      panel: 'cross-validated AUROC',
      value: row.randomCvAuroc,
    },
    {
      layer: row.layer,
      series: `trait vectors (${row.traitFeatures})`,
      panel: 'cross-validated accuracy',
      value: row.cvAccuracy,
    },
    {
      layer: row.layer,
      series: `random vectors (${row.randomFeatures})`,
      panel: 'cross-validated accuracy',
      value: row.randomCvAccuracy,
    },
  ]);
  for (const row of detection.generalization?.perLayer ?? []) {
    points.push({
      layer: row.layer,
      series: 'held-out biases (trained on train biases)',
      panel: 'cross-validated AUROC',
      value: row.testAuroc,
    });
  }
  const n = detection.positives + detection.negatives;
  // Chance for a fixed score: AUROC 0.5 with the Mann-Whitney null sd sqrt((P + N + 1) / (12 P N));
  // accuracy: the majority-class rate with its binomial sd.
  const aurocHalfWidth = 1.96 * Math.sqrt((n + 1) / (12 * detection.positives * detection.negatives));
  const majority = detection.majorityRate ?? 0.5;
  const accuracyHalfWidth = 1.96 * Math.sqrt((majority * (1 - majority)) / n);
  const byLayer: ReportChart = {
    id: 'detection-by-layer',
    section: 'detection',
    title: 'Detection by layer',
    caption: `L2 logistic regression (C = ${detection.inverseRegularization}) on standardised per-response projections, ${detection.validation ? `${detection.validation.scheme} (${detection.validation.folds} folds${detection.validation.groups ? `, ${detection.validation.groups} groups; AUROC over pairs within a group` : ''})` : `${detection.folds}-fold`} cross-validation at each layer; ${detection.positives} positive and ${detection.negatives} negative prompts. Picking the best of these layers is optimistic: the reported detection AUROC chooses the layer inside the training folds. Grey bands: chance (AUROC 0.5, accuracy ${majority.toFixed(2)} = majority class) +- 1.96 null sd; the random-vector line is the same classifier on random features.`,
    spec: createMetricByLayerSpec(
      points.filter((point) => finite(point.value)),
      {
        title: 'Detection by layer',
        independentY: false,
        chance: {
          'cross-validated AUROC': { value: 0.5, low: 0.5 - aurocHalfWidth, high: 0.5 + aurocHalfWidth },
          'cross-validated accuracy': {
            value: majority,
            low: majority - accuracyHalfWidth,
            high: majority + accuracyHalfWidth,
          },
        },
      },
    ),
  };
  return [byLayer, ...rocCharts(detection)];
}

/** Out-of-fold ROC curves of the nested procedure, its random-vector control and the held-out groups. */
function rocCharts(detection: NonNullable<ReportInputs['detection']>): ReportChart[] {
  const curves = [];
  if (detection.best) {
    curves.push({
      name: `traits (nested CV, AUROC ${detection.best.cvAuroc.toFixed(2)})`,
      curve: detection.best.roc,
    });
    curves.push({ name: 'random vectors (same procedure)', curve: detection.best.randomRoc });
  }
  if (detection.generalization)
    curves.push({
      name: `held-out biases, layer ${detection.generalization.layer}`,
      curve: detection.generalization.roc,
    });
  if (curves.length === 0) return [];
  return [
    {
      id: 'roc',
      section: 'detection',
      title: 'ROC curves',
      caption:
        'Out-of-fold ROC of the nested procedure (pooled over folds; with groups the reported AUROC counts pairs within a group only), the same procedure on random vectors, and the train-bias classifier on held-out biases; the diagonal is chance.',
      spec: createRocCurveSpec(curves, { title: 'ROC' }),
    },
  ];
}

/** AUROC and point-biserial r of each trait vector per layer, in and out of distribution. */
function predictivityCharts({ inputs, isTrait }: ChartContext): ReportChart[] {
  const predictivity = inputs.predictivity;
  if (!predictivity) return [];
  const points = predictivity.sets.flatMap((set) =>
    set.entries
      .filter((entry) => isTrait(entry.vectorId))
      .flatMap((entry) => [
        { layer: entry.layer, series: entry.vectorId, panel: `AUROC (${set.name})`, value: entry.auroc },
        {
          layer: entry.layer,
          series: entry.vectorId,
          panel: `point-biserial r (${set.name})`,
          value: entry.r,
        },
      ]),
  );
  const chance: Record<string, { value: number; low: number; high: number }> = {};
  for (const set of predictivity.sets) {
    const first = set.entries.find((entry) => entry.n > 0);
    if (!first) continue;
    const positives = first.positives;
    const negatives = first.n - first.positives;
    const aurocHalfWidth = 1.96 * Math.sqrt((first.n + 1) / (12 * positives * negatives));
    const rHalfWidth = 1.96 / Math.sqrt(Math.max(1, first.n - 1));
    chance[`AUROC (${set.name})`] = { value: 0.5, low: 0.5 - aurocHalfWidth, high: 0.5 + aurocHalfWidth };
    chance[`point-biserial r (${set.name})`] = { value: 0, low: -rHalfWidth, high: rHalfWidth };
  }
  return [
    {
      id: 'predictivity',
      section: 'predictivity',
      title: 'Predictivity by layer',
      caption: `How well the ${predictivity.measure} projection (${predictivity.aggregation}) predicts the behaviour label, per layer: AUROC and point-biserial r, in and out of distribution. Grey bands: chance (AUROC 0.5, r 0) +- 1.96 null sd for one vector at one layer; with many vectors and layers some lines leave the band by chance.`,
      spec: createMetricByLayerSpec(
        points.filter((point) => finite(point.value)),
        { title: 'Predictivity by layer', seriesTitle: 'vector', columns: 2, chance },
      ),
    },
  ];
}

/** Cosines between the vectors at each layer (when a layer has more than one vector). */
function consistencyCharts({ inputs }: ChartContext): ReportChart[] {
  const consistency = inputs.consistency;
  if (!consistency?.layers.some((layer) => layer.vectorIds.length > 1)) return [];
  const cells = consistency.layers.flatMap((layer) =>
    layer.vectorIds.flatMap((row, i) =>
      layer.vectorIds.map((column, j) => ({
        layer: layer.layer,
        row,
        column,
        cosine: layer.cosines[i]![j]!,
      })),
    ),
  );
  return [
    {
      id: 'vector-consistency',
      section: 'consistency',
      title: 'Vector consistency',
      caption:
        'Cosine between the vectors at each layer: vectors of one trait built in different ways should agree; different traits should not collapse onto one direction.',
      spec: createCosineMatrixSpec(
        cells,
        consistency.layers.map((layer) => layer.layer),
      ),
    },
  ];
}

/** One steering sweep: trait and coherence scores against the coefficient per layer. */
function steeringCharts(sweep: ReportInputs['steering'][number], index: number): ReportChart[] {
  const points = sweep.runs.flatMap((run) => [
    ...(finite(run.traitMean)
      ? [
          {
            layer: run.layer,
            coefficient: run.coefficient,
            metric: 'trait',
            value: run.traitMean,
            n: run.n ?? 0,
            low: run.traitInterval?.[0] ?? null,
            high: run.traitInterval?.[1] ?? null,
          },
        ]
      : []),
    ...(finite(run.coherenceMean)
      ? [
          {
            layer: run.layer,
            coefficient: run.coefficient,
            metric: 'coherence',
            value: run.coherenceMean,
            n: run.n ?? 0,
            low: run.coherenceInterval?.[0] ?? null,
            high: run.coherenceInterval?.[1] ?? null,
          },
        ]
      : []),
  ]);
  if (points.length === 0) return [];
  return [
    {
      id: `steering-${index}`,
      section: 'steering',
      title: `Steering sweep: ${sweep.trait}`,
      caption: `From ${sweep.source}: mean judge scores against the coefficient per layer with 95% t-intervals over the questions (${sweep.runs.length} single-layer runs${sweep.skippedRuns > 0 ? `, ${sweep.skippedRuns} multi-layer or ablation runs not plotted` : ''}); dashed: unsteered baseline; dotted red: the coherence threshold (${sweep.coherenceThreshold ?? 70}) below which a run does not count.`,
      spec: createSteeringSweepSpec(points, sweep.baseline, {
        title: `Steering sweep: ${sweep.trait} (dashed: unsteered, dotted: coherence threshold)`,
        coherenceThreshold: sweep.coherenceThreshold ?? 70,
      }),
    },
  ];
}

/** One trait's extraction metrics by layer and method. */
function extractionChart(evaluation: ReportInputs['extraction'][number], index: number): ReportChart {
  const sites = new Set(evaluation.rows.map((row) => row.site));
  return {
    id: `extraction-${index}`,
    section: 'extraction',
    title: `Extraction metrics: ${evaluation.trait}`,
    caption: `From ${evaluation.source}: validation metrics by layer and method${sites.size > 1 ? ' (site in the series name)' : ''}; dashed: chance (accuracy and AUROC 0.5${evaluation.validation ? `, grey: +- 1.96 null sd for ${evaluation.validation.positive} + ${evaluation.validation.negative} validation prompts, one method at one layer` : ''}; random_baseline is the random-vector method). Combined score = (accuracy + |d| / the trait's largest |d|) / 2 when the polarity is right, else 0.`,
    spec: createMetricByLayerSpec(
      evaluation.rows.map((row) => ({
        layer: row.layer,
        series: sites.size > 1 ? `${row.method} @ ${row.site}` : row.method,
        panel: row.metric,
        value: row.value,
      })),
      {
        title: `Extraction metrics: ${evaluation.trait}`,
        seriesTitle: 'method',
        chance: (() => {
          // A fixed direction at chance: accuracy 0.5 +- 1.96 sqrt(0.25 / n), AUROC 0.5 +- 1.96 x its null sd.
          const split = evaluation.validation;
          if (!split) return { accuracy: { value: 0.5 }, AUROC: { value: 0.5 } };
          const n = split.positive + split.negative;
          const accuracy = 1.96 * Math.sqrt(0.25 / n);
          const auroc = 1.96 * Math.sqrt((n + 1) / (12 * split.positive * split.negative));
          return {
            accuracy: { value: 0.5, low: 0.5 - accuracy, high: 0.5 + accuracy },
            AUROC: { value: 0.5, low: 0.5 - auroc, high: 0.5 + auroc },
          };
        })(),
      },
    ),
  };
}
