import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  experimentLayout,
  readTraitVectors,
  TraitlensError,
  writeJsonAtomic,
  writeTraitVectors,
} from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticExperiment } from '../../test/synthetic-experiment';
import { analyzeExperiment } from './analyze-experiment';
import { findExperimentVectors } from './find-experiment-vectors';
import { readBestMethods } from './read-best-methods';

let root: string;

/** An extraction evaluation.json whose resid_post scores make `best` the given method (at layer 1). */
function evaluation(trait: string, scores: Record<string, number>, best: string) {
  const methods = Object.fromEntries(
    Object.entries(scores).map(([method, combinedScore]) => [method, { combinedScore }]),
  );
  return {
    format: 'traitlens.extraction-evaluation',
    formatVersion: '1',
    trait,
    methods: Object.keys(scores),
    sites: {
      resid_post: {
        layers: { '1': { methods } },
        best: { method: best, layer: 1, combinedScore: scores[best], validationAccuracy: 0.8 },
      },
    },
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'traitlens-best-methods-'));
  await writeSyntheticExperiment({ root, hiddenSize: 16, layers: 3, prompts: 24 });
  const layout = experimentLayout(root);
  // A second method per trait (the same direction, stored as probe), so each trait has two candidates.
  for (const trait of ['planted', 'control']) {
    const folder = layout.extraction('alignment', trait);
    const set = await readTraitVectors(join(folder.vectors, 'mean_diff.safetensors'));
    await writeTraitVectors(join(folder.vectors, 'probe.safetensors'), {
      metadata: { ...set.metadata, method: 'probe' },
      vectors: set.vectors,
    });
  }
  // Different traits, different best methods.
  await writeJsonAtomic(
    layout.extraction('alignment', 'planted').evaluation,
    evaluation('alignment/planted', { mean_diff: 0.7, probe: 0.9, random_baseline: 0.5 }, 'probe'),
  );
  await writeJsonAtomic(
    layout.extraction('alignment', 'control').evaluation,
    evaluation('alignment/control', { mean_diff: 0.8, probe: 0.6 }, 'mean_diff'),
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readBestMethods', () => {
  it('gives each trait the method its extraction evaluation ranked best', async () => {
    expect(await readBestMethods(root)).toEqual({
      'alignment/control': 'mean_diff',
      'alignment/planted': 'probe',
    });
    expect(await readBestMethods(root, { traits: ['planted'] })).toEqual({ 'alignment/planted': 'probe' });
  });

  it('selects one vector file per trait in findExperimentVectors', async () => {
    const found = await findExperimentVectors(root, { methods: await readBestMethods(root) });
    expect(found.map((file) => `${file.trait}/${file.method}`)).toEqual([
      'control/mean_diff',
      'planted/probe',
    ]);
  });

  it("analyzeExperiment with methods 'best' projects each trait's own best method", async () => {
    const summary = await analyzeExperiment({
      experiment: root,
      variantA: 'clean',
      variantB: 'lora',
      promptSets: ['synthetic'],
      methods: 'best',
      randomBaselines: 2,
      randomDirections: 50,
      bootstrapResamples: 50,
      threads: 1,
      tokenViewPrompts: 0,
      outputDirectory: join(root, 'analysis-best'),
    });
    expect(summary.vectors.filter((vector) => !vector.isRandomBaseline).map((vector) => vector.id)).toEqual([
      'control/mean_diff',
      'planted/probe',
    ]);
    expect(summary.highlights.traits.map((trait) => trait.vectorId).sort()).toEqual([
      'control/mean_diff',
      'planted/probe',
    ]);
  });

  it('fails naming the trait and what to run when a trait has no evaluation', async () => {
    const file = experimentLayout(root).extraction('alignment', 'control').evaluation;
    await unlink(file);
    const failure = await readBestMethods(root).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TraitlensError);
    expect((failure as TraitlensError).code).toBe('FILE_NOT_FOUND');
    expect((failure as TraitlensError).message).toContain(file);
    expect((failure as TraitlensError).message).toContain('trait alignment/control');
    expect((failure as TraitlensError).message).toContain(
      `traitlens extract --experiment ${root} --traits alignment/control`,
    );
    await expect(
      analyzeExperiment({ experiment: root, variantA: 'clean', promptSets: ['synthetic'], methods: 'best' }),
    ).rejects.toThrow(/alignment\/control is missing or unreadable/);
    await expect(readBestMethods(root, { traits: ['kindness'] })).rejects.toThrow(
      /trait kindness is missing or unreadable\. Run extraction of kindness first/,
    );
  });
});
