import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  cosineSimilarity,
  experimentLayout,
  type HookSite,
  readTraitVectors,
  writeJsonAtomic,
} from '@traitlens/core';
import type { BestVector, TraitEvaluation } from '../evaluation/trait-evaluation';
import { traitlensVersion } from '../traitlens-version';
import { vectorFilePath } from './extract-vector-files';

/** extraction/summary.json: every trait's best vector and how the traits' best vectors relate. */
export interface ExtractionSummary {
  format: 'traitlens.extraction-summary';
  formatVersion: '1';
  traitlensVersion: string;
  createdAt: string;
  /** Per trait (`category/trait`), per site: the best (method, layer) by combined score. */
  traits: Record<string, Record<string, BestVector | null>>;
  /**
   * Per site: cosine between the traits' best vectors (trait -> trait -> cosine). Vectors from different
   * layers are compared as directions in the shared residual basis; see `traits` for their layers.
   */
  bestVectorCosines: Record<string, Record<string, Record<string, number>>>;
}

/**
 * Reads every trait's evaluation.json under `<experiment>/extraction/`, loads each best vector, and
 * writes extraction/summary.json with the cross-trait cosines (docs/study-method.md §3.6: the cosine
 * between the traits' best vectors).
 */
export async function summarizeExtraction(experimentDirectory: string): Promise<ExtractionSummary> {
  const root = join(experimentDirectory, 'extraction');
  const layout = experimentLayout(experimentDirectory);
  const traits: ExtractionSummary['traits'] = {};
  const bestVectors = new Map<string, Map<string, Float32Array>>();
  for (const category of await listFolders(root)) {
    for (const trait of await listFolders(join(root, category))) {
      const paths = layout.extraction(category, trait);
      let evaluation: TraitEvaluation;
      try {
        evaluation = JSON.parse(await readFile(paths.evaluation, 'utf8')) as TraitEvaluation;
      } catch {
        continue;
      }
      const name = `${category}/${trait}`;
      traits[name] = {};
      for (const [site, siteEvaluation] of Object.entries(evaluation.sites)) {
        traits[name][site] = siteEvaluation.best;
        if (!siteEvaluation.best) continue;
        const set = await readTraitVectors(
          vectorFilePath(paths.vectors, site as HookSite, siteEvaluation.best.method),
        );
        const vector = set.vectors.get(siteEvaluation.best.layer);
        if (!vector) continue;
        const bySite = bestVectors.get(site) ?? new Map<string, Float32Array>();
        bySite.set(name, vector);
        bestVectors.set(site, bySite);
      }
    }
  }
  const bestVectorCosines: ExtractionSummary['bestVectorCosines'] = {};
  for (const [site, vectors] of bestVectors) {
    bestVectorCosines[site] = {};
    for (const [first, a] of vectors) {
      bestVectorCosines[site][first] = {};
      for (const [second, b] of vectors) {
        bestVectorCosines[site][first][second] = a.length === b.length ? cosineSimilarity(a, b) : Number.NaN;
      }
    }
  }
  const summary: ExtractionSummary = {
    format: 'traitlens.extraction-summary',
    formatVersion: '1',
    traitlensVersion,
    createdAt: new Date().toISOString(),
    traits,
    bestVectorCosines,
  };
  await writeJsonAtomic(join(root, 'summary.json'), summary);
  return summary;
}

/**
 * Writes extraction/summary.json when every one of `traits` (`category/trait`) has its evaluation.json,
 * and returns it; undefined while some are missing. Shards of one extraction call this after their own
 * traits: the one that finishes last finds every trait done and writes the summary (two finishing at
 * once both write the same content; the write is atomic).
 */
export async function summarizeExtractionIfComplete(
  experimentDirectory: string,
  traits: readonly string[],
): Promise<ExtractionSummary | undefined> {
  const layout = experimentLayout(experimentDirectory);
  for (const name of traits) {
    const [category, trait] = name.split('/');
    try {
      await access(layout.extraction(category!, trait!).evaluation);
    } catch {
      return undefined;
    }
  }
  return summarizeExtraction(experimentDirectory);
}

async function listFolders(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}
