import { experimentLayout } from '@traitlens/core';
import { listExtractedTraits } from '../experiment/list-extracted-traits';
import { readJsonFile } from '../experiment/read-prompt-labels';

/** One number of an extraction evaluation: a metric of one method's vector at one layer. */
export interface ExtractionMetricRow {
  trait: string;
  site: string;
  method: string;
  layer: number;
  metric: string;
  value: number;
}

/** The metrics the report plots, keyed by where they sit in a method's entry. */
const methodMetrics: [string, (entry: Record<string, unknown>) => unknown][] = [
  [
    'accuracy',
    (entry) =>
      (entry.validation as Record<string, unknown> | undefined)?.accuracy ??
      entry.accuracy ??
      entry.validationAccuracy,
  ],
  [
    "Cohen's d",
    (entry) =>
      (entry.validation as Record<string, unknown> | undefined)?.cohensD ?? entry.cohensD ?? entry.cohens_d,
  ],
  ['AUROC', (entry) => (entry.validation as Record<string, unknown> | undefined)?.auroc ?? entry.auroc],
  ['train accuracy', (entry) => entry.trainAccuracy ?? entry.train_accuracy],
  ['combined score', (entry) => entry.combinedScore ?? entry.combined_score],
];

/** Which method's vector at which layer a metric row is about. */
type MetricSubject = Pick<ExtractionMetricRow, 'trait' | 'site' | 'method' | 'layer'>;

/** The plotted metrics of one method's entry at one layer, as rows. */
function pushMethodEntry(
  rows: ExtractionMetricRow[],
  { trait, site, method, layer }: MetricSubject,
  entry: Record<string, unknown>,
): void {
  for (const [metric, read] of methodMetrics) {
    const value = read(entry);
    if (typeof value === 'number' && Number.isFinite(value))
      rows.push({ trait, site, method, layer, metric, value });
  }
}

function readLayers(
  rows: ExtractionMetricRow[],
  trait: string,
  site: string,
  layers: Record<string, unknown>,
): void {
  for (const [layerKey, raw] of Object.entries(layers)) {
    const layer = Number(layerKey);
    if (!Number.isInteger(layer)) continue;
    const methods = ((raw ?? {}) as Record<string, unknown>).methods ?? raw;
    for (const [method, entry] of Object.entries((methods ?? {}) as Record<string, unknown>)) {
      if (entry && typeof entry === 'object')
        pushMethodEntry(rows, { trait, site, method, layer }, entry as Record<string, unknown>);
    }
  }
}

/**
 * Flattens an extraction `evaluation.json` into rows. Reads extraction's schema (`sites.<site>.layers.<L>
 * .methods.<method>.{validation.{accuracy,cohensD,auroc}, trainAccuracy, combinedScore}`), a site-less
 * `layers.<L>...` object, `methods.<method>.<L>` nesting, or an array (also under rows/results/metrics) of
 * `{layer, method, <metric>: number}` records (see docs/report.md).
 */
export function parseExtractionEvaluation(value: unknown, traitFallback: string): ExtractionMetricRow[] {
  const record = (value ?? {}) as Record<string, unknown>;
  const trait = typeof record.trait === 'string' ? record.trait : traitFallback;
  const rows: ExtractionMetricRow[] = [];
  const list = Array.isArray(value) ? value : (record.rows ?? record.results ?? record.metrics);
  if (Array.isArray(list)) {
    for (const raw of list) {
      const entry = (raw ?? {}) as Record<string, unknown>;
      const layer = entry.layer;
      if (typeof layer !== 'number' || typeof entry.method !== 'string') continue;
      const site = typeof entry.site === 'string' ? entry.site : 'resid_post';
      for (const [metric, metricValue] of Object.entries(entry)) {
        if (metric === 'layer' || typeof metricValue !== 'number' || !Number.isFinite(metricValue)) continue;
        rows.push({ trait, site, method: entry.method, layer, metric, value: metricValue });
      }
    }
    return rows;
  }
  if (record.sites && typeof record.sites === 'object') {
    for (const [site, siteEntry] of Object.entries(record.sites as Record<string, unknown>)) {
      const layers = ((siteEntry ?? {}) as Record<string, unknown>).layers;
      if (layers && typeof layers === 'object')
        readLayers(rows, trait, site, layers as Record<string, unknown>);
    }
    return rows;
  }
  if (record.layers && typeof record.layers === 'object' && !Array.isArray(record.layers)) {
    readLayers(rows, trait, 'resid_post', record.layers as Record<string, unknown>);
    return rows;
  }
  if (record.methods && typeof record.methods === 'object' && !Array.isArray(record.methods)) {
    for (const [method, byLayer] of Object.entries(record.methods as Record<string, unknown>)) {
      for (const [layerKey, entry] of Object.entries((byLayer ?? {}) as Record<string, unknown>)) {
        const layer = Number(layerKey);
        if (Number.isInteger(layer) && entry && typeof entry === 'object')
          pushMethodEntry(
            rows,
            { trait, site: 'resid_post', method, layer },
            entry as Record<string, unknown>,
          );
      }
    }
  }
  return rows;
}

export interface ExtractionEvaluationSummary {
  trait: string;
  source: string;
  rows: ExtractionMetricRow[];
  /** Validation class sizes (`split.validation`), for the chance intervals; null when not recorded. */
  validation: { positive: number; negative: number } | null;
}

/** Every `extraction/<category>/<trait>/evaluation.json` of an experiment. */
export async function readExtractionEvaluations(
  experimentRoot: string,
): Promise<ExtractionEvaluationSummary[]> {
  const layout = experimentLayout(experimentRoot);
  const found: ExtractionEvaluationSummary[] = [];
  for (const { category, trait } of await listExtractedTraits(experimentRoot)) {
    let value: unknown;
    try {
      value = await readJsonFile(layout.extraction(category, trait).evaluation, 'Extraction evaluation');
    } catch {
      continue;
    }
    const rows = parseExtractionEvaluation(value, `${category}/${trait}`);
    const validation = (
      (value as Record<string, unknown> | null)?.split as Record<string, unknown> | undefined
    )?.validation as Record<string, unknown> | undefined;
    const positive = Number(validation?.positive);
    const negative = Number(validation?.negative);
    if (rows.length > 0)
      found.push({
        trait: `${category}/${trait}`,
        source: `extraction/${category}/${trait}/evaluation.json`,
        rows,
        validation: positive > 0 && negative > 0 ? { positive, negative } : null,
      });
  }
  return found;
}
