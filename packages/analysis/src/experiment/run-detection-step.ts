import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { type DetectionResult, runDetection } from '../detection/run-detection';
import type { ProjectedActivations } from '../projections/project-activation-files';
import type { ProjectionTable } from '../projections/projection-table';
import type { VectorBank } from '../projections/vector-bank';
import type { DetectionFeatures, DetectionFile } from './analysis-files';
import { analysisFormatVersion } from './analysis-format-version';
import type { ExperimentPrompt } from './experiment-prompts';
import type { PromptLabelling } from './load-prompt-labelling';
import { writeAnalysisJson } from './write-analysis-json';

export interface RunDetectionStepOptions {
  output: string;
  /** The features the detector reads (the table is checked to exist here). */
  table: ProjectionTable;
  features: DetectionFeatures;
  bank: VectorBank;
  prompts: readonly ExperimentPrompt[];
  labelling: PromptLabelling;
  seed: number;
  folds: number | undefined;
  permutations: number | undefined;
  bootstrapResamples: number | undefined;
}

/** The per-response table the detector and predictivity read: A's, B's, or B - A on the same tokens. */
export function selectDetectionTable(
  projected: ProjectedActivations,
  features: DetectionFeatures,
): ProjectionTable {
  const table =
    features === 'a'
      ? projected.a
      : features === 'b'
        ? projected.b
        : projected.b
          ? differenceTable(projected.a, projected.b)
          : undefined;
  if (!table)
    throw new TraitlensError('INVALID_ARGUMENT', `Detection features "${features}" need variant B (--b).`);
  return table;
}

/** Detection of label-1 responses from trait projections; writes analysis/detection.json. */
export async function runDetectionStep(options: RunDetectionStepOptions): Promise<DetectionResult> {
  const { table, prompts } = options;
  const { labels, groups, trainGroups } = options.labelling;
  const detection = runDetection(
    {
      table,
      vectors: options.bank.vectors,
      labels,
      ...(trainGroups
        ? {
            groups: prompts.map((prompt) => groups.get(prompt.key)?.group ?? null),
            trainGroups: [...trainGroups],
          }
        : {}),
    },
    {
      seed: options.seed,
      ...(options.folds ? { folds: options.folds } : {}),
      permutations: options.permutations,
      bootstrapResamples: options.bootstrapResamples,
    },
  );
  const file: DetectionFile = {
    format: 'traitlens.analysis.detection',
    formatVersion: analysisFormatVersion,
    features: options.features,
    variant: table.variant,
    ...detection,
  };
  await writeAnalysisJson(join(options.output, 'detection.json'), file);
  return detection;
}

function differenceTable(a: ProjectionTable, b: ProjectionTable): ProjectionTable {
  const values = new Float64Array(a.values.length);
  for (let i = 0; i < values.length; i++) values[i] = b.values[i]! - a.values[i]!;
  return { ...a, variant: `${b.variant}-minus-${a.variant}`, values };
}
