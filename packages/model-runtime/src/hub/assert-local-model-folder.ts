import { stat } from 'node:fs/promises';
import { TraitlensError } from '@traitlens/core';

/**
 * The one check of a local model or adapter folder (loadModel and resolveModelSource both use it): a
 * missing path is FILE_NOT_FOUND, a file where a folder belongs is INVALID_ARGUMENT.
 */
export async function assertLocalModelFolder(path: string, shownAs: string = path): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `Model folder not found: ${shownAs} does not exist. Pass a local Hugging Face model folder (config.json and safetensors weights) or hf:org/name[@revision].`,
      { cause, details: { path: shownAs } },
    );
  }
  if (!isDirectory) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${shownAs} is a file; pass the folder that contains it (with config.json and the safetensors weights).`,
      { details: { path: shownAs } },
    );
  }
}
