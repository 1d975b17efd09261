import { join, relative } from 'node:path';
import { readTraitVectors, TraitlensError } from '@traitlens/core';
import { type ProjectionFileColumn, readProjectionFileColumns } from '../projections/read-projection-file';
import {
  createVectorBank,
  createVectorBankFromProjectionColumns,
  type VectorBank,
  type VectorBankEntry,
} from '../projections/vector-bank';
import { findExperimentVectors } from './find-experiment-vectors';
import { listActivationFiles } from './list-activation-files';
import { isMethodList, type MethodSelection, selectsMethod } from './trait-methods';

export interface LoadAnalysisVectorsOptions {
  experiment: string;
  variantA: string;
  promptSets: readonly string[];
  source: 'activations' | 'projections';
  traits: readonly string[] | undefined;
  methods: MethodSelection | undefined;
  vectorFiles: readonly string[] | undefined;
  layers: readonly number[] | undefined;
  randomBaselines: number;
  seed: number;
}

/**
 * The vector bank of an analysis: the experiment's trait vectors (or the given vector files) with seeded
 * random controls, or, for capture projection files, the columns the files were captured with.
 */
export async function loadAnalysisVectors(options: LoadAnalysisVectorsOptions): Promise<VectorBank> {
  if (options.source === 'projections') return loadProjectionColumns(options);
  const entries = options.vectorFiles?.length
    ? await readVectorFiles(options.vectorFiles, options)
    : await readExperimentVectors(options);
  if (entries.length === 0) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `No trait vectors to analyse: none under ${join(options.experiment, 'extraction')}/<category>/<trait>/vectors/ matched${options.traits ? ` traits ${options.traits.join(', ')}` : ''}. Run extraction or pass --vectors <file...>.`,
      { details: { experiment: options.experiment } },
    );
  }
  return createVectorBank(entries, {
    layers: options.layers,
    randomBaselines: options.randomBaselines,
    seed: options.seed,
  });
}

async function readVectorFiles(
  paths: readonly string[],
  options: LoadAnalysisVectorsOptions,
): Promise<VectorBankEntry[]> {
  const entries: VectorBankEntry[] = [];
  for (const path of paths) {
    const set = await readTraitVectors(path);
    const trait = set.metadata.trait;
    // Vector files may name the trait with or without its category.
    if (
      options.traits &&
      !options.traits.some(
        (wanted) => wanted === trait || trait.endsWith(`/${wanted}`) || wanted.endsWith(`/${trait}`),
      )
    )
      continue;
    entries.push({ set, source: relative(options.experiment, path) });
  }
  return entries;
}

async function readExperimentVectors(options: LoadAnalysisVectorsOptions): Promise<VectorBankEntry[]> {
  const found = await findExperimentVectors(options.experiment, {
    traits: options.traits,
    methods: options.methods,
  });
  const entries: VectorBankEntry[] = [];
  for (const file of found) {
    entries.push({
      set: await readTraitVectors(file.path),
      trait: file.trait,
      category: file.category,
      source: relative(options.experiment, file.path),
    });
  }
  return entries;
}

async function loadProjectionColumns(options: LoadAnalysisVectorsOptions): Promise<VectorBank> {
  if (options.vectorFiles && options.vectorFiles.length > 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'Projection files carry the projections onto the vectors they were captured with; drop --vectors (or analyse activation files).',
    );
  }
  const files = await listActivationFiles(
    options.experiment,
    options.variantA,
    options.promptSets[0]!,
    'projections',
  );
  const first = files.values().next().value as string;
  const { columns, hiddenSize } = await readProjectionFileColumns(first);
  const { methods } = options;
  return createVectorBankFromProjectionColumns(
    // Per-trait methods pick columns; random_baseline columns stay, they are the random controls.
    methods && !isMethodList(methods)
      ? keepColumns(
          columns,
          (column) =>
            column.method === 'random_baseline' || selectsMethod(methods, column.trait, column.method),
        )
      : columns,
    hiddenSize,
    {
      layers: options.layers,
      traits: options.traits,
      ...(methods && isMethodList(methods) ? { methods } : {}),
      source: relative(options.experiment, first),
    },
  );
}

function keepColumns(
  columns: Record<string, ProjectionFileColumn[]>,
  keep: (column: ProjectionFileColumn) => boolean,
): Record<string, ProjectionFileColumn[]> {
  return Object.fromEntries(Object.entries(columns).map(([point, list]) => [point, list.filter(keep)]));
}
