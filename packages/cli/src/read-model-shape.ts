import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';

/** What a command checks its arguments against before the weights load. */
export interface ModelShape {
  layerCount: number;
  hiddenSize: number;
}

/**
 * A model's layer count and hidden size from its config.json alone (for `hf:` sources only that file
 * is fetched), so layers and vector files are checked before minutes of download and conversion.
 */
export async function readModelShape(source: string): Promise<ModelShape> {
  const { resolveModelSource } = await import('@traitlens/model-runtime');
  const { parseModelConfig } = await import('@traitlens/model-runtime/internal');
  const resolved = await resolveModelSource(source, { configOnly: true });
  const path = join(resolved.directory, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${path} could not be read as JSON: a Hugging Face model folder needs a valid config.json.`,
      { cause, details: { file: path } },
    );
  }
  const config = parseModelConfig(json, path);
  return { layerCount: config.layerCount, hiddenSize: config.hiddenSize };
}
