import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { experimentLayout, TraitlensError } from '@traitlens/core';
import { listExtractedTraits } from './list-extracted-traits';
import { isMethodList, type MethodSelection, methodOfTrait, selectsMethod } from './trait-methods';

/** A vector file found in an experiment: extraction/<category>/<trait>/vectors/<method>.safetensors. */
export interface ExperimentVectorFile {
  category: string;
  trait: string;
  method: string;
  path: string;
}

export interface FindExperimentVectorsOptions {
  /** Trait names (`sycophancy`) or category/trait (`alignment/sycophancy`); default all. */
  traits?: readonly string[] | undefined;
  /**
   * Methods to keep: a list for every trait, or per trait one method (`readBestMethods`); default all but
   * `random_baseline`, since analyses draw their own random controls.
   */
  methods?: MethodSelection | undefined;
}

/** Lists the experiment's trait vector files, filtered by trait and method. */
export async function findExperimentVectors(
  experimentRoot: string,
  options: FindExperimentVectorsOptions = {},
): Promise<ExperimentVectorFile[]> {
  const layout = experimentLayout(experimentRoot);
  const found: ExperimentVectorFile[] = [];
  const wanted = options.traits ? new Set(options.traits) : undefined;
  for (const { category, trait } of await listExtractedTraits(experimentRoot)) {
    if (wanted && !wanted.has(trait) && !wanted.has(`${category}/${trait}`)) continue;
    const vectors = layout.extraction(category, trait).vectors;
    let names: string[];
    try {
      names = (await readdir(vectors)).filter((name) => name.endsWith('.safetensors')).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const method = name.slice(0, -'.safetensors'.length);
      const keep = options.methods
        ? selectsMethod(options.methods, `${category}/${trait}`, method)
        : method !== 'random_baseline';
      if (!keep) continue;
      found.push({ category, trait, method, path: join(vectors, name) });
    }
  }
  if (wanted) {
    for (const trait of wanted) {
      if (!found.some((file) => file.trait === trait || `${file.category}/${file.trait}` === trait)) {
        throw new TraitlensError(
          'FILE_NOT_FOUND',
          `No vectors for trait "${trait}" under ${join(experimentRoot, 'extraction')}/<category>/${trait.includes('/') ? trait.split('/')[1] : trait}/vectors/${methodPattern(options.methods, trait)}.safetensors. Run extraction first or pass --vectors <file>.`,
          { details: { trait, experiment: experimentRoot } },
        );
      }
    }
  }
  return found;
}

function methodPattern(methods: MethodSelection | undefined, trait: string): string {
  if (!methods) return '<method>';
  if (isMethodList(methods)) return `{${methods.join(',')}}`;
  return methodOfTrait(methods, trait) ?? '<no method chosen for this trait>';
}
