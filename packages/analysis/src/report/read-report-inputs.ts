import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { experimentLayout, TraitlensError } from '@traitlens/core';
import type {
  DetectionFile,
  ModelDiffFile,
  PredictivityFile,
  ProjectionsFile,
  TokenViewFile,
  VectorConsistencyFile,
} from '../experiment/analysis-files';
import type { AnalysisSummary } from '../experiment/build-analysis-summary';
import { type ExtractionEvaluationSummary, readExtractionEvaluations } from './read-extraction-evaluation';
import { readSteeringSweeps, type SteeringSweep } from './read-steering-results';

/** Everything a report shows, read from an experiment directory; absent parts are null or empty. */
export interface ReportInputs {
  experimentName: string;
  summary: AnalysisSummary | null;
  modelDiff: ModelDiffFile | null;
  detection: DetectionFile | null;
  predictivity: PredictivityFile | null;
  consistency: VectorConsistencyFile | null;
  tokenView: TokenViewFile | null;
  projections: ProjectionsFile | null;
  steering: SteeringSweep[];
  extraction: ExtractionEvaluationSummary[];
}

async function readOptionalJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${path} is not valid JSON; re-run the stage that writes it (traitlens analyze).`,
      { cause, details: { file: path } },
    );
  }
}

/** Reads analysis/*.json, steering/<trait>/results.json and extraction/<category>/<trait>/evaluation.json. */
export async function readReportInputs(
  experimentRoot: string,
  analysisDirectory?: string,
): Promise<ReportInputs> {
  const analysis = analysisDirectory ?? experimentLayout(experimentRoot).analysis;
  const inputs: ReportInputs = {
    experimentName: basename(resolve(experimentRoot)),
    summary: await readOptionalJson(join(analysis, 'summary.json')),
    modelDiff: await readOptionalJson(join(analysis, 'model-diff.json')),
    detection: await readOptionalJson(join(analysis, 'detection.json')),
    predictivity: await readOptionalJson(join(analysis, 'predictivity.json')),
    consistency: await readOptionalJson(join(analysis, 'vector-consistency.json')),
    tokenView: await readOptionalJson(join(analysis, 'token-view.json')),
    projections: await readOptionalJson(join(analysis, 'projections.json')),
    steering: await readSteeringSweeps(experimentRoot),
    extraction: await readExtractionEvaluations(experimentRoot),
  };
  const anything = inputs.summary || inputs.steering.length > 0 || inputs.extraction.length > 0;
  if (!anything) {
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `Nothing to report in ${experimentRoot}: no analysis/summary.json, steering/*/results.json or extraction/*/*/evaluation.json. Run traitlens analyze (or extract/steer) first.`,
      { details: { experiment: experimentRoot } },
    );
  }
  return inputs;
}
