import type { ExploitAnnotations } from '../projections/exploit-annotations';
import {
  type ActivationFilePair,
  type ProjectedActivations,
  projectActivationFiles,
} from '../projections/project-activation-files';
import type { ProjectionSettings } from '../projections/projection-settings';
import { createRandomDirections } from '../projections/random-directions';
import type { VectorBank } from '../projections/vector-bank';
import type { ExperimentPrompt } from './experiment-prompts';

export interface ProjectExperimentOptions {
  prompts: readonly ExperimentPrompt[];
  bank: VectorBank;
  settings: ProjectionSettings;
  variantA: string;
  variantB: string | undefined;
  source: 'activations' | 'projections';
  /** Random directions of the model diff's null (0: none); drawn only with variant B. */
  randomDirections: number;
  seed: number;
  /** Exploit spans by prompt key, for token-level specificity. */
  annotations: ExploitAnnotations | undefined;
  /** Prompt keys whose per-token projections are kept. */
  tokenView: ReadonlySet<string>;
  readAhead: number | undefined;
  threads: number | undefined;
  onProgress: (done: number, total: number) => void;
}

/** Projects every prompt's response of variant A (and B) onto the bank, with the random-direction null. */
export async function projectExperiment(options: ProjectExperimentOptions): Promise<ProjectedActivations> {
  const { bank, variantB } = options;
  const pairs: ActivationFilePair[] = options.prompts.map((prompt) =>
    prompt.pathB
      ? { promptId: prompt.key, pathA: prompt.pathA, pathB: prompt.pathB }
      : { promptId: prompt.key, pathA: prompt.pathA },
  );
  const randomDirections =
    variantB !== undefined && options.randomDirections > 0
      ? createRandomDirections({
          count: options.randomDirections,
          hiddenSize: bank.hiddenSize,
          layers: bank.layers.length,
          seed: options.seed,
        })
      : undefined;
  return projectActivationFiles(pairs, {
    bank,
    settings: options.settings,
    randomDirections,
    variantA: options.variantA,
    ...(variantB ? { variantB } : {}),
    annotations: options.annotations,
    ...(options.readAhead ? { readAhead: options.readAhead } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    source: options.source,
    keepTokens: (key) => options.tokenView.has(key),
    onProgress: options.onProgress,
  });
}
