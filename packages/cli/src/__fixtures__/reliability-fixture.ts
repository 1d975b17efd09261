import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createTinyModel } from '@traitlens/model-runtime/testing';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');
const bin = join(repositoryRoot, 'packages', 'cli', 'src', 'bin.ts');

export interface BinaryResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the traitlens binary in its own process (as `pnpm traitlens` does), so it can be killed.
 * `onStderr` sees the standard error collected so far after each chunk (to act once a line appears).
 */
export function runBinary(
  args: string[],
  env: Record<string, string> = {},
  settings: { onStderr?: (stderr: string) => void } = {},
): Promise<BinaryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@traitlens/source', '--import', 'tsx', bin, ...args],
      { cwd: repositoryRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      settings.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A tiny generated model, a two-class trait data set and a prompt set, in a fresh folder. */
export interface ReliabilityFixture {
  root: string;
  model: string;
  datasets: string;
  promptSet: string;
  cache: string;
}

export async function createReliabilityFixture(): Promise<ReliabilityFixture> {
  const root = await mkdtemp(join(tmpdir(), 'traitlens-reliability-'));
  const model = join(root, 'model');
  await createTinyModel({
    directory: model,
    seed: 3,
    layerCount: 3,
    hiddenSize: 32,
    headCount: 4,
    chatTemplate: null,
  });
  const shipped = join(repositoryRoot, 'datasets', 'traits', 'tinystories', 'happiness');
  const trait = join(root, 'datasets', 'tinystories', 'happiness');
  await mkdir(trait, { recursive: true });
  for (const file of ['positive.txt', 'negative.txt']) {
    const lines = (await readFile(join(shipped, file), 'utf8')).split('\n').filter((line) => line.trim());
    await writeFile(join(trait, file), `${lines.slice(0, 12).join('\n')}\n`);
  }
  await writeFile(join(trait, 'definition.txt'), await readFile(join(shipped, 'definition.txt')));
  const steering = JSON.parse(await readFile(join(shipped, 'steering.json'), 'utf8')) as {
    questions: string[];
  };
  await writeFile(
    join(trait, 'steering.json'),
    JSON.stringify({ questions: steering.questions.slice(0, 4) }),
  );
  const promptSet = join(root, 'prompts.json');
  await writeFile(
    promptSet,
    JSON.stringify({
      name: 'reliability',
      description: 'Six short openings for the kill and two-process tests.',
      prompts: [
        'Once upon a time, there was a little girl named Lily. She',
        'One day, Tom went to the park with his mom. He saw',
        'The robot climbed the old lighthouse and',
        'Sue and her mom went to the shop. They',
        'It was a windy day. The boats',
        'Ben had a toy car. He',
      ].map((text, index) => ({ id: index + 1, text })),
    }),
  );
  const cache = join(root, 'cache');
  return { root, model, datasets: join(root, 'datasets'), promptSet, cache };
}

const timestampField = /"(createdAt|updatedAt|completedAt)": "[^"]*"/g;
const durationField = /"(elapsedSeconds|seconds)": [0-9.e+-]+/g;

/**
 * Every file under `directory` by relative path, as a SHA-256 of its bytes. In JSON files the values of
 * the documented timestamp and duration fields (createdAt, updatedAt, completedAt, elapsedSeconds,
 * seconds) are blanked first; nothing else is normalised, so equal snapshots mean byte-identical outputs.
 */
export async function snapshotDirectory(directory: string): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        let bytes: Buffer | string = await readFile(path);
        if (entry.name.endsWith('.json'))
          bytes = bytes
            .toString('utf8')
            .replace(timestampField, '"$1": ""')
            .replace(durationField, '"$1": 0');
        snapshot[relative(directory, path)] = createHash('sha256').update(bytes).digest('hex');
      }
    }
  };
  await walk(directory);
  return Object.fromEntries(Object.entries(snapshot).sort(([a], [b]) => a.localeCompare(b)));
}
