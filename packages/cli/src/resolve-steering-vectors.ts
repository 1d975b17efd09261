import { experimentLayout } from '@traitlens/core';

/**
 * The vector file `steer` uses when `--vectors` is not given: what `traitlens extract` wrote for the
 * trait under the experiment, for `--method <id>`, or for `--method best` the method extraction ranked
 * best at resid_post (evaluation.json, read by analysis's `readBestMethods`).
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
    // Loaded only for `best`: analysis is not needed on steer's other paths.
    const { readBestMethods } = await import('@traitlens/analysis');
    const name = options.category ? `${options.category}/${options.trait}` : options.trait;
    const chosen = await readBestMethods(options.experiment, {
      traits: [name],
      requestedBy: '--method best',
    });
    method = Object.values(chosen)[0]!;
  }
  return vectorFilePath(folder.vectors, 'resid_post', method);
}
