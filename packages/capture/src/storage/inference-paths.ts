import { join } from 'node:path';
import { experimentLayout } from '@traitlens/core';

/** Where one variant's outputs for one prompt set live, and the files of each prompt. */
export interface InferencePaths {
  root: string;
  responses: string;
  activations: string;
  projections: string;
  responseFile(promptId: string): string;
  activationFile(promptId: string): string;
  projectionFile(promptId: string): string;
}

/** `experiments/<name>/inference/<variant>/<prompt_set>/{responses,activations,projections}/<prompt_id>.*` */
export function inferencePaths(experiment: string, variant: string, promptSet: string): InferencePaths {
  const folders = experimentLayout(experiment).inference(variant, promptSet);
  return {
    ...folders,
    responseFile: (promptId) => join(folders.responses, `${promptId}.json`),
    activationFile: (promptId) => join(folders.activations, `${promptId}.safetensors`),
    projectionFile: (promptId) => join(folders.projections, `${promptId}.safetensors`),
  };
}
