import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@traitlens/model-runtime/testing';
import { beforeAll } from 'vitest';
import { commandArgs, type OptionValue, repositoryRoot } from './cli-process';

/** Openings of TinyStories-like prompts; a study takes the first `promptCount`, ids from 1. */
const openings = [
  'Once upon a time, there was a little girl named Lily. She',
  'One day, Tom went to the park with his mom. He saw',
  'The robot climbed the old lighthouse and',
  'Sue and her mom went to the shop. They',
  'It was a windy day. The boats',
  'Ben had a toy car. He',
  'The cat sat on the warm roof and',
  'Mia found a shiny stone by the river. She',
  'The old man planted a tree. Every day',
];

/** A trait data set cut from one shipped under datasets/traits/tinystories. */
interface TraitCut {
  /** The shipped trait it copies. */
  source: string;
  /** First line of the positive and negative files taken (12 lines from there). */
  first: number;
  /** Write the shipped positives as negatives and the other way round. */
  swapClasses?: boolean;
}

interface TinyStudyOptions {
  /** Prefix of the temporary folder. */
  name: string;
  /** Generated models by folder name: their seed (one tokenizer, `layerCount` layers each). */
  models: Record<string, number>;
  layerCount: number;
  /** Trait data sets by name, written under datasets/tinystories/<name>. */
  traits: Record<string, TraitCut>;
  /** Steering questions per trait. */
  questionCount: number;
  promptSet: { name: string; description: string; promptCount: number };
}

/** Tiny generated models, trait data sets and a prompt set, in a fresh folder. */
export interface TinyStudy {
  root: string;
  /** Model folder by the name given in `models`. */
  models: Record<string, string>;
  datasets: string;
  /** `tinystories/<name>` for every trait. */
  traits: string[];
  promptSet: string;
  /** A TRAITLENS_CACHE folder for the runs. */
  cache: string;
}

const shippedTraits = join(repositoryRoot, 'datasets', 'traits', 'tinystories');

async function writeTraitCut(directory: string, cut: TraitCut, questionCount: number): Promise<void> {
  await mkdir(directory, { recursive: true });
  for (const file of ['positive.txt', 'negative.txt']) {
    const lines = (await readFile(join(shippedTraits, cut.source, file), 'utf8'))
      .split('\n')
      .filter((line) => line.trim());
    const other = file === 'positive.txt' ? 'negative.txt' : 'positive.txt';
    const target = cut.swapClasses ? other : file;
    await writeFile(join(directory, target), `${lines.slice(cut.first, cut.first + 12).join('\n')}\n`);
  }
  await writeFile(
    join(directory, 'definition.txt'),
    await readFile(join(shippedTraits, cut.source, 'definition.txt')),
  );
  const steering = JSON.parse(await readFile(join(shippedTraits, cut.source, 'steering.json'), 'utf8')) as {
    questions: string[];
  };
  await writeFile(
    join(directory, 'steering.json'),
    JSON.stringify({ questions: steering.questions.slice(0, questionCount) }),
  );
}

export async function createTinyStudy(options: TinyStudyOptions): Promise<TinyStudy> {
  const root = await mkdtemp(join(tmpdir(), `traitlens-${options.name}-`));
  const models: Record<string, string> = {};
  for (const [name, seed] of Object.entries(options.models)) {
    models[name] = join(root, name);
    await createTinyModel({
      directory: models[name],
      seed,
      layerCount: options.layerCount,
      hiddenSize: 32,
      headCount: 4,
      chatTemplate: null,
    });
  }
  for (const [name, cut] of Object.entries(options.traits))
    await writeTraitCut(join(root, 'datasets', 'tinystories', name), cut, options.questionCount);
  const promptSet = join(root, 'prompts.json');
  const { promptCount, ...described } = options.promptSet;
  await writeFile(
    promptSet,
    JSON.stringify({
      ...described,
      prompts: openings.slice(0, promptCount).map((text, index) => ({ id: index + 1, text })),
    }),
  );
  return {
    root,
    models,
    datasets: join(root, 'datasets'),
    traits: Object.keys(options.traits).map((name) => `tinystories/${name}`),
    promptSet,
    cache: join(root, 'cache'),
  };
}

/** The kill, two-process and file-system tests' study: one 3-layer model, one trait, six prompts. */
export type ReliabilityStudy = TinyStudy & { model: string };

export async function createReliabilityStudy(): Promise<ReliabilityStudy> {
  const study = await createTinyStudy({
    name: 'reliability',
    models: { model: 3 },
    layerCount: 3,
    traits: { happiness: { source: 'happiness', first: 0 } },
    questionCount: 4,
    promptSet: {
      name: 'reliability',
      description: 'Six short openings for the kill and two-process tests.',
      promptCount: 6,
    },
  });
  return { ...study, model: study.models.model! };
}

/**
 * The scale-out tests' study: a 4-layer model and a second one with the same tokenizer (the replay
 * variant), three traits (one per shard of three: SHA-256 of "tinystories/<name>" mod 3 is 0, 2, 1;
 * gloom is happiness with the classes swapped) and nine prompts.
 */
export async function createScaleOutStudy(): Promise<TinyStudy & { model: string; replayModel: string }> {
  const study = await createTinyStudy({
    name: 'scale-out',
    models: { model: 11, 'replay-model': 12 },
    layerCount: 4,
    traits: {
      happiness: { source: 'happiness', first: 0 },
      kindness: { source: 'kindness', first: 0 },
      gloom: { source: 'happiness', first: 12, swapClasses: true },
    },
    questionCount: 3,
    promptSet: {
      name: 'scale-out',
      description: 'Nine openings, split over three shards by prompt id.',
      promptCount: 9,
    },
  });
  return { ...study, model: study.models.model!, replayModel: study.models['replay-model']! };
}

type Overrides = Record<string, OptionValue>;

/**
 * The reliability study's stage commands, one definition for the kill, two-process and file-system
 * tests; `overrides` change or (with `undefined`) drop options.
 */
export function reliabilityCommands(study: ReliabilityStudy) {
  const common = { model: study.model, threads: 1 };
  const capture = (experiment: string, overrides: Overrides = {}) =>
    commandArgs('capture', {
      ...common,
      'prompt-set': study.promptSet,
      experiment,
      variant: 'base',
      'max-new-tokens': 6,
      'batch-size': 2,
      ...overrides,
    });
  return {
    extract: (experiment: string, overrides: Overrides = {}) =>
      commandArgs('extract', {
        ...common,
        traits: 'tinystories/happiness',
        datasets: study.datasets,
        experiment,
        'max-new-tokens': 6,
        'batch-size': 5,
        ...overrides,
      }),
    capture,
    /** capture --replay-variant clean on the same model. */
    replay: (experiment: string) =>
      capture(experiment, { 'replay-variant': 'clean', 'replay-model': study.model }),
    steer: (experiment: string, vectors: string) =>
      commandArgs('steer', {
        ...common,
        trait: 'tinystories/happiness',
        datasets: study.datasets,
        vectors,
        layers: '1,2',
        judge: 'lexicon',
        coefficients: '2,8',
        'max-new-tokens': 6,
        questions: 3,
        experiment,
      }),
    label: (experiment: string) =>
      commandArgs('label', {
        experiment,
        'prompt-set': study.promptSet,
        variant: 'base',
        keywords: 'the,and,a',
      }),
    analyze: (experiment: string) =>
      commandArgs('analyze', { experiment, variant: 'base', 'prompt-set': 'prompts' }),
    report: (experiment: string) => commandArgs('report', { experiment }),
  };
}

/** Where `extract` on the reliability study writes the happiness mean_diff vectors. */
export function reliabilityVectors(experiment: string): string {
  return join(experiment, 'extraction', 'tinystories', 'happiness', 'vectors', 'mean_diff.safetensors');
}

export type ReliabilityCommands = ReturnType<typeof reliabilityCommands>;

/** What a reliability test file works on; filled in by the `beforeAll` that useReliabilityStudy registers. */
export interface ReliabilitySetup {
  study: ReliabilityStudy;
  commands: ReliabilityCommands;
}

/**
 * Registers a `beforeAll` that builds the reliability study and its stage commands; read the returned
 * object inside tests and hooks (it is empty while the test file is being collected).
 */
export function useReliabilityStudy(): ReliabilitySetup {
  const setup: Partial<ReliabilitySetup> = {};
  beforeAll(async () => {
    setup.study = await createReliabilityStudy();
    setup.commands = reliabilityCommands(setup.study);
  });
  return setup as ReliabilitySetup;
}
