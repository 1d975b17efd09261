import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyModel } from '@traitlens/model-runtime/testing';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');

/** A tiny study: two generated models, three trait data sets, a prompt set, in a fresh folder. */
export interface ScaleOutFixture {
  root: string;
  /** The generating (and steered) model. */
  model: string;
  /** A second model with the same tokenizer, the replay variant. */
  replayModel: string;
  datasets: string;
  traits: string[];
  promptSet: string;
}

/** Environment entries that turn sharding off, whatever scheduler runs the tests themselves. */
export const noSchedulerShard: Record<string, string> = {
  SLURM_ARRAY_TASK_ID: '',
  JOB_COMPLETION_INDEX: '',
  TRAITLENS_SHARD_COUNT: '',
};

export async function createScaleOutFixture(): Promise<ScaleOutFixture> {
  const root = await mkdtemp(join(tmpdir(), 'traitlens-scale-out-'));
  const shape = { layerCount: 4, hiddenSize: 32, headCount: 4, chatTemplate: null } as const;
  const model = join(root, 'model');
  const replayModel = join(root, 'replay-model');
  await createTinyModel({ directory: model, seed: 11, ...shape });
  await createTinyModel({ directory: replayModel, seed: 12, ...shape });
  const shipped = join(repositoryRoot, 'datasets', 'traits', 'tinystories');
  // Three traits, one per shard of three (SHA-256 of "tinystories/<name>" mod 3 is 0, 2, 1).
  const sources = {
    happiness: ['happiness', 0],
    kindness: ['kindness', 0],
    gloom: ['happiness', 12],
  } as const;
  for (const [name, [source, first]] of Object.entries(sources)) {
    const trait = join(root, 'datasets', 'tinystories', name);
    await mkdir(trait, { recursive: true });
    for (const file of ['positive.txt', 'negative.txt']) {
      const lines = (await readFile(join(shipped, source, file), 'utf8'))
        .split('\n')
        .filter((line) => line.trim());
      // gloom is happiness with the classes swapped.
      const target = name === 'gloom' ? (file === 'positive.txt' ? 'negative.txt' : 'positive.txt') : file;
      await writeFile(join(trait, target), `${lines.slice(first, first + 12).join('\n')}\n`);
    }
    await writeFile(join(trait, 'definition.txt'), await readFile(join(shipped, source, 'definition.txt')));
    const steering = JSON.parse(await readFile(join(shipped, source, 'steering.json'), 'utf8')) as {
      questions: string[];
    };
    await writeFile(
      join(trait, 'steering.json'),
      JSON.stringify({ questions: steering.questions.slice(0, 3) }),
    );
  }
  const promptSet = join(root, 'prompts.json');
  await writeFile(
    promptSet,
    JSON.stringify({
      name: 'scale-out',
      description: 'Nine openings, split over three shards by prompt id.',
      prompts: [
        'Once upon a time, there was a little girl named Lily. She',
        'One day, Tom went to the park with his mom. He saw',
        'The robot climbed the old lighthouse and',
        'Sue and her mom went to the shop. They',
        'It was a windy day. The boats',
        'Ben had a toy car. He',
        'The cat sat on the warm roof and',
        'Mia found a shiny stone by the river. She',
        'The old man planted a tree. Every day',
      ].map((text, index) => ({ id: index + 1, text })),
    }),
  );
  return {
    root,
    model,
    replayModel,
    datasets: join(root, 'datasets'),
    traits: Object.keys(sources).map((name) => `tinystories/${name}`),
    promptSet,
  };
}
