/**
 * The packages as a user gets them from npm: every package is packed (`pnpm pack`, which turns
 * `workspace:*` into versions), the tarballs are installed into a fresh project outside the workspace
 * with plain npm (onnxruntime-node's CDN download skipped with ONNXRUNTIME_NODE_INSTALL=skip; everything
 * else from the npm registry), and the installed packages are used: a README snippet, a type check of
 * the public d.ts without skipLibCheck, and `npx traitlens run` on a tiny config.
 *
 * Slow (npm downloads onnxruntime-node, ~100 MB, and the tiny study runs): it runs only with
 * TRAITLENS_NPM_TEST=1, after `pnpm build` (the CI script does both). It skips, saying so, when the npm
 * registry cannot be reached.
 */
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..');
const enabled = process.env.TRAITLENS_NPM_TEST === '1';

/** Every published package folder (private ones, examples and tools are not published). */
function publishedPackages(): { name: string; directory: string }[] {
  const folders = [
    ...readdirSync(join(repositoryRoot, 'packages')).map((name) => join(repositoryRoot, 'packages', name)),
    join(repositoryRoot, 'datasets'),
  ];
  return folders
    .filter((directory) => existsSync(join(directory, 'package.json')))
    .map((directory) => ({
      directory,
      manifest: JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')),
    }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ directory, manifest }) => ({ name: manifest.name as string, directory }));
}

function run(command: string, args: string[], options: SpawnSyncOptions) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  return {
    status: result.status,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}`,
    error: result.error,
  };
}

const tinyConfig = `
name: tiny
tinyOrganism: { seed: 3, hiddenSize: 64, layerCount: 4, plantLayer: 1, plantedWord: " robot", plantStrength: 12, rank: 4 }
runtime: { dtype: fp32, providers: [cpu] }
models:
  extraction: { source: "tiny:base" }
  instruct: { source: "tiny:instruct" }
  lora: { source: "tiny:lora" }
judge:
  spec: lexicon
  lexicons:
    sycophancy: { positive: [agree, great], negative: [disagree, wrong] }
stages:
  # No data set paths: the trait and prompt sets come from the installed @traitlens/datasets.
  extract: { traits: [alignment/sycophancy, alignment/honesty], methods: [mean_diff, probe], maxNewTokens: 6, promptLimit: 8 }
  steer: { traits: [sycophancy], method: probe, layers: [1], steps: 1, questions: 2, maxNewTokens: 6 }
  capture: { promptSets: [train_100], perGroup: 2, maxNewTokens: 8, batchSize: 4 }
  replay: { modelDiffVectors: true }
  label: { keywords: { "*": [robot] } }
  analyze: { methods: [mean_diff], trainGroups: [44, 8, 2], bootstrap: 20, permutations: 5, folds: 2, randomBaselines: 1, tokenView: 2 }
  report: { images: false }
`;

describe.skipIf(!enabled)('the packed packages, installed with npm outside the workspace', () => {
  const packages = publishedPackages();
  let work: string;
  let project: string;
  let skipReason: string | undefined;
  const npmEnvironment = {
    ...process.env,
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };

  beforeAll(() => {
    const ping = run('npm', ['ping'], { env: npmEnvironment, timeout: 30_000 });
    if (ping.status !== 0) {
      skipReason = `the npm registry is not reachable (npm ping: ${ping.output.trim().split('\n').pop()})`;
      return;
    }
    const unbuilt = packages.filter(({ directory }) => !existsSync(join(directory, 'dist', 'index.js')));
    if (unbuilt.length > 0)
      throw new Error(`run pnpm build first: no dist/ in ${unbuilt.map(({ name }) => name).join(', ')}`);
    work = mkdtempSync(join(tmpdir(), 'traitlens-npm-'));
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    for (const { name, directory } of packages) {
      const packed = run('pnpm', ['pack', '--pack-destination', tarballs], {
        cwd: directory,
        timeout: 120_000,
      });
      if (packed.status !== 0) throw new Error(`pnpm pack of ${name} failed:\n${packed.output}`);
    }
    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'traitlens-npm-check', private: true, type: 'module' }, null, 2),
    );
    const install = run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        ...readdirSync(tarballs).map((file) => join(tarballs, file)),
        'typescript@~5.9.3',
        '@types/node@^20.19.0',
      ],
      { cwd: project, env: npmEnvironment, timeout: 900_000 },
    );
    if (install.status !== 0) throw new Error(`npm install failed:\n${install.output}`);
  }, 1_200_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs LICENSE, README and built code into every tarball, and no tests', (context) => {
    if (skipReason) context.skip(skipReason);
    for (const file of readdirSync(join(work, 'tarballs'))) {
      const listing = run('tar', ['-tzf', join(work, 'tarballs', file)], {}).output.split('\n');
      expect(listing, file).toContain('package/LICENSE');
      expect(listing, file).toContain('package/README.md');
      expect(listing, file).toContain('package/dist/index.js');
      expect(
        listing.filter((entry) => entry.endsWith('.test.ts')),
        file,
      ).toEqual([]);
    }
  }, 900_000);

  it("runs the @traitlens/datasets README's snippet", (context) => {
    if (skipReason) context.skip(skipReason);
    const readme = readFileSync(join(repositoryRoot, 'datasets', 'README.md'), 'utf8');
    const snippet = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toBeDefined();
    writeFileSync(join(project, 'snippet.mjs'), snippet!);
    const result = run('node', ['snippet.mjs'], { cwd: project, timeout: 120_000 });
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/^\d+ positive prefixes; Key/m);
    expect(result.output).toContain(
      join('node_modules', '@traitlens', 'datasets', 'inference', 'train_100.json'),
    );
  }, 900_000);

  it('type-checks every public d.ts without skipLibCheck', (context) => {
    if (skipReason) context.skip(skipReason);
    const imports = packages.map(({ name }, index) => `import type * as package${index} from '${name}';`);
    writeFileSync(
      join(project, 'check.ts'),
      `${imports.join('\n')}\nexport type All = [${packages.map((_, index) => `typeof package${index}`).join(', ')}];\n`,
    );
    const result = run(
      join(project, 'node_modules', '.bin', 'tsc'),
      [
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        'check.ts',
      ],
      { cwd: project, timeout: 300_000 },
    );
    expect(result.status, result.output).toBe(0);
  }, 900_000);

  it('runs a tiny study with npx traitlens run, then shows it done with traitlens status', (context) => {
    if (skipReason) context.skip(skipReason);
    writeFileSync(join(project, 'tiny.yaml'), tinyConfig);
    const result = run('npx', ['traitlens', 'run', 'tiny.yaml'], {
      cwd: project,
      env: npmEnvironment,
      timeout: 900_000,
    });
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(
      /tiny: ran extract, steer, capture, replay, label, analyze, report; skipped intervene, predictivity in /,
    );
    expect(existsSync(join(project, 'tiny', 'report', 'index.html'))).toBe(true);
    const status = run('npx', ['traitlens', 'status', 'tiny.yaml'], { cwd: project, timeout: 120_000 });
    expect(status.status, status.output).toBe(0);
    expect(status.output).toMatch(/every stage is done/);
    const validate = run(
      'npx',
      [
        'traitlens',
        'datasets',
        'validate',
        join('node_modules', '@traitlens', 'datasets', 'traits', 'alignment', 'sycophancy'),
      ],
      { cwd: project, timeout: 120_000 },
    );
    expect(validate.status, validate.output).toBe(0);
  }, 900_000);
});
