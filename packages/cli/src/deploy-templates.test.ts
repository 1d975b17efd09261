import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { registerCommands } from './register-commands';

// The scale-out templates of the 70B study (docs/scale-out.md): the SLURM scripts run under bash with
// stand-ins for sbatch and pnpm that record their arguments, the Kubernetes manifest is parsed with the
// yaml package, and every traitlens command line they would run is parsed by the CLI's own parser.

const repositoryRoot = join(import.meta.dirname, '..', '..', '..');
const deploy = join(repositoryRoot, 'examples', 'rm-sycophancy', 'deploy');

/** Parses argv (after `traitlens`) with the real command definitions; actions replaced by a recorder. */
async function parseWithCli(
  argv: string[],
): Promise<{ command: string; args: string[]; options: Record<string, unknown> }> {
  const program = new Command('traitlens').exitOverride();
  registerCommands(program);
  let parsed: { command: string; args: string[]; options: Record<string, unknown> } | undefined;
  for (const command of program.commands) {
    command.exitOverride();
    command.action((...values: unknown[]) => {
      const self = values.at(-1) as Command;
      parsed = { command: self.name(), args: self.args, options: self.opts() };
    });
  }
  await program.parseAsync(argv, { from: 'user' });
  if (!parsed) throw new Error(`no command ran for ${argv.join(' ')}`);
  return parsed;
}

let work: string;
let bin: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'traitlens-deploy-'));
  bin = join(work, 'bin');
  await mkdir(bin);
  // pnpm and sbatch stand-ins: append their argv (one argument per line, a blank line after) to a log.
  for (const name of ['pnpm', 'sbatch']) {
    await writeFile(
      join(bin, name),
      `#!/usr/bin/env bash\nprintf '%s\\n' "$@" >> "${join(work, `${name}.log`)}"\necho >> "${join(work, `${name}.log`)}"\n${name === 'sbatch' ? 'echo $((1000 + $(grep -c "^$" "' + join(work, 'sbatch.log') + '")))\n' : ''}`,
    );
    await chmod(join(bin, name), 0o755);
  }
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function readCalls(name: string): Promise<string[][]> {
  const text = await readFile(join(work, `${name}.log`), 'utf8').catch(() => '');
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) =>
      block.split('\n').filter((line, index, lines) => !(index === lines.length - 1 && line === '')),
    );
}

function runScript(script: string, env: Record<string, string>, args: string[] = []) {
  return spawnSync('bash', [script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env },
  });
}

describe('SLURM templates', () => {
  it('submit.sh chains four jobs: extract and capture arrays, steer after extract, the rest after both', async () => {
    const result = runScript(join(deploy, 'slurm', 'submit.sh'), { SHARDS: '8' });
    expect(result.status, result.stderr).toBe(0);
    const calls = await readCalls('sbatch');
    expect(calls).toHaveLength(4);
    const [extract, steer, capture, rest] = calls as [string[], string[], string[], string[]];
    for (const call of [extract, steer, capture]) expect(call).toContain('--array=0-7');
    expect(rest.some((arg) => arg.startsWith('--array'))).toBe(false);
    expect(steer).toContain('--dependency=afterok:1001');
    expect(rest).toContain('--dependency=afterok:1002:1003');
    expect(calls.map((call) => call.find((arg) => arg.startsWith('--export='))!)).toEqual([
      '--export=ALL,STAGES=extract,TRAITLENS_SHARD_COUNT=8',
      '--export=ALL,STAGES=steer,TRAITLENS_SHARD_COUNT=8',
      '--export=ALL,STAGES=capture+replay+label,TRAITLENS_SHARD_COUNT=8',
      '--export=ALL,STAGES=all',
    ]);
    for (const call of calls) expect(call.at(-1)).toBe(join(deploy, 'slurm', 'rm-sycophancy-70b.sbatch'));
  });

  it.each([
    ['extract', ['extract']],
    ['steer', ['steer']],
    ['capture+replay+label', ['capture', 'replay', 'label']],
    ['all', undefined],
  ] as const)('the job script with STAGES=%s runs a valid traitlens run command', async (stages, only) => {
    await rm(join(work, 'pnpm.log'), { force: true });
    const script = join(deploy, 'slurm', 'rm-sycophancy-70b.sbatch');
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
    const text = await readFile(script, 'utf8');
    expect(text).toMatch(/^#SBATCH --gres=gpu:1$/m);
    const experiment = join(work, 'experiment');
    const result = runScript(script, {
      TRAITLENS_CHECKOUT: repositoryRoot,
      EXPERIMENT: experiment,
      STAGES: stages,
      SLURM_ARRAY_TASK_ID: '3',
      TRAITLENS_SHARD_COUNT: '8',
    });
    expect(result.status, result.stderr).toBe(0);
    const [call] = await readCalls('pnpm');
    expect(call!.slice(0, 2)).toEqual(['--silent', 'traitlens']);
    const parsed = await parseWithCli(call!.slice(2));
    expect(parsed.command).toBe('run');
    expect(existsSync(parsed.args[0]!)).toBe(true);
    expect(parsed.options.output).toBe(experiment);
    expect(parsed.options.only).toEqual(only);
  });

  it('refuses to start without the checkout and the experiment folder', () => {
    const result = runScript(join(deploy, 'slurm', 'rm-sycophancy-70b.sbatch'), {
      TRAITLENS_CHECKOUT: '',
      EXPERIMENT: '',
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/set TRAITLENS_CHECKOUT/);
  });
});

describe('Kubernetes manifest', () => {
  it('parses; indexed Jobs carry TRAITLENS_SHARD_COUNT = completions; each runs a valid traitlens command', async () => {
    const text = await readFile(join(deploy, 'kubernetes', 'rm-sycophancy-70b.yaml'), 'utf8');
    const documents = parseAllDocuments(text);
    for (const document of documents) expect(document.errors).toEqual([]);
    // biome-ignore lint/suspicious/noExplicitAny: a Kubernetes object read from YAML
    const jobs = documents.map((document) => document.toJS() as any);
    expect(jobs.map((job) => job.metadata.labels['traitlens/step'])).toEqual([
      'extract',
      'steer',
      'capture',
      'finish',
    ]);
    const onlyByStep: Record<string, unknown> = {};
    for (const job of jobs) {
      expect(job.kind).toBe('Job');
      const pod = job.spec.template.spec;
      expect(pod.restartPolicy).toBe('Never');
      const [container] = pod.containers;
      expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
      const env = Object.fromEntries(
        container.env
          .filter((entry: { value?: string }) => entry.value !== undefined)
          .map((entry: { name: string; value: string }) => [entry.name, entry.value]),
      );
      if (job.spec.completionMode === 'Indexed') {
        expect(job.spec.parallelism).toBe(job.spec.completions);
        expect(env.TRAITLENS_SHARD_COUNT).toBe(String(job.spec.completions));
      } else expect(env.TRAITLENS_SHARD_COUNT).toBeUndefined();
      expect(container.command.slice(0, 3)).toEqual(['pnpm', '--silent', 'traitlens']);
      const parsed = await parseWithCli(container.command.slice(3));
      expect(parsed.command).toBe('run');
      // workingDir is the checkout: the config path is relative to the repository root.
      expect(container.workingDir).toBe('/opt/traitlens');
      expect(existsSync(join(repositoryRoot, parsed.args[0]!))).toBe(true);
      const mounts = container.volumeMounts.map((mount: { mountPath: string }) => mount.mountPath);
      expect(mounts.some((path: string) => String(parsed.options.output).startsWith(`${path}/`))).toBe(true);
      onlyByStep[job.metadata.labels['traitlens/step']] = parsed.options.only;
    }
    expect(onlyByStep).toEqual({
      extract: ['extract'],
      steer: ['steer'],
      capture: ['capture', 'replay', 'label'],
      finish: undefined,
    });
    // The header's kubectl lines select these steps.
    for (const step of ['extract', 'steer', 'capture', 'finish'])
      expect(text).toContain(`-l traitlens/step=${step}`);
  });
});
