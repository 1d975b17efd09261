import { readFile } from 'node:fs/promises';
import { experimentLayout, TraitlensError } from '@traitlens/core';

/**
 * The vector file `steer` uses when `--vectors` is not given: what `traitlens extract` wrote for the
 * trait under the experiment, for `--method <id>`, or for `--method best` the method extraction ranked
 * best at resid_post (evaluation.json).
 */
export async function resolveSteeringVectors(options: {
  experiment: string;
  category: string | undefined;
  trait: string;
  method: string;
}): Promise<string> {
  const { vectorFilePath } = await import('@traitlens/extraction/internal');
  const folder = experimentLayout(options.experiment).extraction(options.category ?? '', options.trait);
  let method = options.method;
  if (method === 'best') {
    let best: unknown;
    try {
      const evaluation: unknown = JSON.parse(await readFile(folder.evaluation, 'utf8'));
      best = property(property(property(property(evaluation, 'sites'), 'resid_post'), 'best'), 'method');
    } catch (cause) {
      throw new TraitlensError(
        'FILE_NOT_FOUND',
        `--method best reads ${folder.evaluation}, which is missing or unreadable: run traitlens extract for ${options.category}/${options.trait} with --experiment ${options.experiment} first, or name a method or --vectors.`,
        { cause, details: { file: folder.evaluation } },
      );
    }
    if (typeof best !== 'string' || best === '')
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `--method best: ${folder.evaluation} names no best method at resid_post (sites.resid_post.best.method; none separated the validation split); name a method or --vectors.`,
        { details: { file: folder.evaluation } },
      );
    method = best;
  }
  return vectorFilePath(folder.vectors, 'resid_post', method);
}

/** `value[key]` when `value` is an object, else undefined: reads a JSON file's path without trusting its shape. */
function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
