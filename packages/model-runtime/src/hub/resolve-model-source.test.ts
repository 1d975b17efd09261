import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { encodeSafetensors } from '@traitlens/core/internal';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stories260kDirectory } from '../../test/shared-models';
import { FakeHubServer, gitBlobOid, sha256Hex } from './__fixtures__/fake-hub-server';
import type { HubProgressEvent } from './hub-progress-event';
import { type ResolveModelSourceOptions, resolveModelSource } from './resolve-model-source';

const token = 'hf_test_token_123';

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

/** Deterministic float32 values, so every run serves identical bytes. */
function values(count: number, seed: number): Float32Array {
  const data = new Float32Array(count);
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    data[i] = state / 2 ** 32 - 0.5;
  }
  return data;
}

const config = JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  num_hidden_layers: 2,
  vocab_size: 256,
});
/** 64 KiB of weights: big enough to be cut mid-transfer. */
const weights = concat(
  encodeSafetensors({
    'model.embed_tokens.weight': { dtype: 'F32', shape: [256, 64], data: values(256 * 64, 1) },
    'model.norm.weight': { dtype: 'F32', shape: [64], data: values(64, 2) },
  }),
);
const shardOne = concat(
  encodeSafetensors({
    'model.embed_tokens.weight': { dtype: 'F32', shape: [256, 64], data: values(256 * 64, 3) },
  }),
);
const shardTwo = concat(
  encodeSafetensors({ 'model.norm.weight': { dtype: 'F32', shape: [64], data: values(64, 4) } }),
);
const shardIndex = JSON.stringify({
  metadata: { total_size: shardOne.byteLength + shardTwo.byteLength },
  weight_map: {
    'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
    'model.norm.weight': 'model-00002-of-00002.safetensors',
  },
});
const adapterWeights = concat(
  encodeSafetensors({
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': {
      dtype: 'F32',
      shape: [4, 64],
      data: values(256, 5),
    },
  }),
);

function singleFileRepo(): Record<string, string | Uint8Array> {
  return {
    'config.json': config,
    'generation_config.json': '{"do_sample": false}',
    'tokenizer.json': '{"model": {"type": "BPE"}}',
    'tokenizer_config.json': '{"bos_token": "<s>"}',
    'model.safetensors': weights,
    // Never needed: must not be downloaded.
    'README.md': '# tiny',
    'pytorch_model.bin': new Uint8Array(1000),
    'original/consolidated.00.pth': new Uint8Array(2000),
  };
}

let hub: FakeHubServer;
let cacheDir: string;
let events: HubProgressEvent[];

function options(extra: ResolveModelSourceOptions = {}): ResolveModelSourceOptions {
  return {
    endpoint: hub.endpoint,
    cacheDir,
    retryDelayMs: 1,
    requestTimeoutMs: 2000,
    stallTimeoutMs: 2000,
    onProgress: (event) => events.push(event),
    ...extra,
  };
}

/** Every path under the repo's cache folder, relative, with `->` link targets, for exact layout checks. */
async function cacheTree(repoFolder: string): Promise<string[]> {
  const root = join(cacheDir, repoFolder);
  if (!existsSync(root)) return [];
  const lines: string[] = [];
  for (const entry of (await readdir(root, { recursive: true, encoding: 'utf8' })).sort()) {
    const path = join(root, entry);
    const info = await lstat(path);
    if (info.isSymbolicLink()) lines.push(`${entry} -> ${await readlink(path)}`);
    else if (info.isFile()) lines.push(entry);
  }
  return lines;
}

beforeEach(async () => {
  hub = await FakeHubServer.start();
  cacheDir = await mkdtemp(join(tmpdir(), 'traitlens-hub-'));
  events = [];
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await hub.close();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('resolveModelSource from the Hub', () => {
  it('downloads only the needed files into the Python cache layout, pinned to the commit sha', async () => {
    const commit = hub.addRepo('org/tiny', { files: singleFileRepo() });
    const resolved = await resolveModelSource('hf:org/tiny', options());

    expect(resolved.revision).toBe(commit);
    expect(resolved.repo).toBe('org/tiny');
    expect(resolved.directory).toBe(join(cacheDir, 'models--org--tiny', 'snapshots', commit));
    expect(resolved.files).toEqual([
      'config.json',
      'model.safetensors',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const blob = (content: string | Uint8Array) =>
      gitBlobOid(typeof content === 'string' ? Buffer.from(content) : content);
    const repo = singleFileRepo();
    expect(await cacheTree('models--org--tiny')).toEqual(
      [
        `blobs/${blob(repo['config.json']!)}`,
        `blobs/${blob(repo['generation_config.json']!)}`,
        `blobs/${blob(repo['tokenizer.json']!)}`,
        `blobs/${blob(repo['tokenizer_config.json']!)}`,
        `blobs/${sha256Hex(weights)}`,
        'refs/main',
        ...[
          'config.json',
          'generation_config.json',
          'model.safetensors',
          'tokenizer.json',
          'tokenizer_config.json',
        ].map((file) => {
          const content = repo[file]!;
          const etag = file.endsWith('.safetensors') ? sha256Hex(content as Uint8Array) : blob(content);
          return `snapshots/${commit}/${file} -> ../../blobs/${etag}`;
        }),
      ].sort(),
    );
    expect(await readFile(join(cacheDir, 'models--org--tiny', 'refs', 'main'), 'utf8')).toBe(commit);
    expect(new Uint8Array(await readFile(join(resolved.directory, 'model.safetensors')))).toEqual(weights);

    const fetched = hub.requests
      .filter((request) => request.path.includes('/resolve/'))
      .map((request) => request.path.split('/').pop());
    expect(fetched.sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    // Downloads name the commit, not the branch, so a push mid-download cannot mix two versions.
    expect(
      hub.requests
        .filter((request) => request.path.includes('/resolve/'))
        .every((request) => request.path.includes(`/resolve/${commit}/`)),
    ).toBe(true);

    expect(events[0]).toEqual({
      type: 'revision-resolved',
      repo: 'org/tiny',
      revision: 'main',
      commit,
      fromCache: false,
    });
    const weightEvents = events.filter((event) => 'file' in event && event.file === 'model.safetensors');
    expect(weightEvents[0]).toMatchObject({
      type: 'file-start',
      totalBytes: weights.byteLength,
      resumedFromBytes: 0,
    });
    expect(weightEvents.at(-1)).toEqual({
      type: 'file-done',
      repo: 'org/tiny',
      file: 'model.safetensors',
      totalBytes: weights.byteLength,
      cached: false,
    });
    expect(weightEvents.filter((event) => event.type === 'file-progress').at(-1)).toMatchObject({
      bytes: weights.byteLength,
    });
  });

  it('reuses the cache on the next call: one metadata request, no downloads', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    const first = await resolveModelSource('hf:org/tiny', options());
    hub.requests.length = 0;
    const second = await resolveModelSource('hf:org/tiny', options());
    expect(second).toEqual(first);
    expect(hub.requests.map((request) => request.path)).toEqual(['/api/models/org/tiny/revision/main']);
  });

  it('follows a branch to its new commit and rewrites refs/<branch>; blobs that did not change are not fetched again', async () => {
    const first = hub.addRepo('org/tiny', { files: singleFileRepo() });
    await resolveModelSource('hf:org/tiny', options());
    const second = hub.addCommit('org/tiny', {
      ...singleFileRepo(),
      'config.json': config.replace('"num_hidden_layers":2', '"num_hidden_layers":3'),
    });
    hub.requests.length = 0;
    const resolved = await resolveModelSource('hf:org/tiny', options());
    expect(resolved.revision).toBe(second);
    expect(second).not.toBe(first);
    expect(await readFile(join(cacheDir, 'models--org--tiny', 'refs', 'main'), 'utf8')).toBe(second);
    expect(
      hub.requests
        .filter((request) => request.path.includes('/resolve/'))
        .map((request) => request.path.split('/').pop()),
    ).toEqual(['config.json']);
  });

  it('downloads a sharded model: the index and every shard it lists', async () => {
    const commit = hub.addRepo('org/sharded', {
      files: {
        'config.json': config,
        'model.safetensors.index.json': shardIndex,
        'model-00001-of-00002.safetensors': shardOne,
        'model-00002-of-00002.safetensors': shardTwo,
        'tokenizer.json': '{}',
      },
    });
    const resolved = await resolveModelSource('hf:org/sharded', options());
    expect(resolved.revision).toBe(commit);
    expect(resolved.files).toEqual([
      'config.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'tokenizer.json',
    ]);
    expect(
      new Uint8Array(await readFile(join(resolved.directory, 'model-00002-of-00002.safetensors'))),
    ).toEqual(shardTwo);
  });

  it('downloads a LoRA adapter (adapter_config.json + adapter_model.safetensors) and nothing else', async () => {
    hub.addRepo('org/lora', {
      files: {
        'adapter_config.json': '{"r": 4}',
        'adapter_model.safetensors': adapterWeights,
        'README.md': 'x',
        'tokenizer.json': '{}',
      },
    });
    const resolved = await resolveModelSource('hf:org/lora', options({ kind: 'adapter' }));
    expect(resolved.files).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(hub.requests.filter((request) => request.path.includes('/resolve/'))).toHaveLength(2);
  });

  it('configOnly fetches config.json alone, so a plan needs no weights', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    const resolved = await resolveModelSource('hf:org/tiny', options({ configOnly: true }));
    expect(resolved.files).toEqual(['config.json']);
    expect(
      hub.requests
        .filter((request) => request.path.includes('/resolve/'))
        .map((request) => request.path.split('/').pop()),
    ).toEqual(['config.json']);
    expect(hub.requests.some((request) => request.origin === 'cdn')).toBe(false);
  });

  it('pins a tag to its commit and accepts a commit sha as revision', async () => {
    const commit = hub.addRepo('org/tiny', { files: singleFileRepo(), branch: 'v1.0' });
    const byTag = await resolveModelSource('hf:org/tiny@v1.0', options());
    expect(byTag.revision).toBe(commit);
    expect(await readFile(join(cacheDir, 'models--org--tiny', 'refs', 'v1.0'), 'utf8')).toBe(commit);
    hub.requests.length = 0;
    // A sha whose snapshot is complete needs no request at all.
    const bySha = await resolveModelSource(`hf:org/tiny@${commit}`, options());
    expect(bySha.directory).toBe(byTag.directory);
    expect(hub.requests).toHaveLength(0);
  });

  it('sends the token to the Hub only, never to the CDN it redirects to', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    await resolveModelSource('hf:org/tiny', options({ token }));
    const cdnRequests = hub.requests.filter((request) => request.origin === 'cdn');
    expect(cdnRequests.length).toBeGreaterThan(0);
    expect(cdnRequests.every((request) => request.authorization === undefined)).toBe(true);
    expect(
      hub.requests
        .filter((request) => request.origin === 'hub')
        .every((request) => request.authorization === `Bearer ${token}`),
    ).toBe(true);
  });

  it('reads HF_ENDPOINT, HF_TOKEN and HF_HUB_CACHE from the environment', async () => {
    hub.addRepo('org/gated', { files: singleFileRepo(), gated: true, token });
    vi.stubEnv('HF_ENDPOINT', hub.endpoint);
    vi.stubEnv('HF_TOKEN', token);
    vi.stubEnv('HF_HUB_CACHE', cacheDir);
    const resolved = await resolveModelSource('hf:org/gated', { retryDelayMs: 1 });
    expect(resolved.directory.startsWith(join(cacheDir, 'models--org--gated'))).toBe(true);
  });
});

describe('resolveModelSource errors', () => {
  /** Files under snapshots/ and complete blobs: what a failed run must not leave behind. */
  async function snapshotAndBlobFiles(repoFolder: string): Promise<string[]> {
    return (await cacheTree(repoFolder)).filter(
      (path) =>
        path.startsWith('snapshots/') ||
        (path.startsWith('blobs/') && !path.endsWith('.incomplete')) ||
        path.startsWith('refs/'),
    );
  }

  it('gated repo without a token: HUB_AUTH_REQUIRED that says to accept the conditions and set HF_TOKEN', async () => {
    hub.addRepo('meta/gated', { files: singleFileRepo(), gated: true, token });
    vi.stubEnv('HF_TOKEN', '');
    vi.stubEnv('HF_TOKEN_PATH', join(cacheDir, 'no-token-file'));
    const error = await resolveModelSource('hf:meta/gated', options()).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'HUB_AUTH_REQUIRED')).toBe(true);
    expect((error as Error).message).toContain('HF_TOKEN');
    expect((error as Error).message).toContain(`${hub.endpoint}/meta/gated`);
    expect(await snapshotAndBlobFiles('models--meta--gated')).toEqual([]);
  });

  it('gated repo with a token that has no access: HUB_AUTH_REQUIRED naming the conditions page', async () => {
    hub.addRepo('meta/gated', { files: singleFileRepo(), gated: true, token });
    const error = await resolveModelSource('hf:meta/gated', options({ token: 'hf_someone_else' })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'HUB_AUTH_REQUIRED')).toBe(true);
    expect((error as Error).message).toMatch(/accept its conditions/);
    expect((error as TraitlensError).details.status).toBe(403);
  });

  it('private or missing repo without a token: HUB_AUTH_REQUIRED; with a token: HUB_ERROR not found', async () => {
    hub.addRepo('org/secret', { files: singleFileRepo(), private: true, token });
    vi.stubEnv('HF_TOKEN', '');
    vi.stubEnv('HF_TOKEN_PATH', join(cacheDir, 'no-token-file'));
    const anonymous = await resolveModelSource('hf:org/secret', options()).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(anonymous, 'HUB_AUTH_REQUIRED')).toBe(true);
    expect((anonymous as Error).message).toMatch(/not found or needs a login/);
    const missing = await resolveModelSource('hf:org/nothing-here', options({ token })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(missing, 'HUB_ERROR')).toBe(true);
    expect((missing as Error).message).toMatch(/not found/);
    expect((await resolveModelSource('hf:org/secret', options({ token }))).files).toContain(
      'model.safetensors',
    );
  });

  it('a revision that does not exist: REVISION_NOT_FOUND, nothing written', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    const error = await resolveModelSource('hf:org/tiny@no-such-branch', options()).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'REVISION_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain('"no-such-branch"');
    expect(await cacheTree('models--org--tiny')).toEqual([]);
  });

  it('a repo with only pickle weights: FILE_NOT_FOUND that says safetensors are needed', async () => {
    hub.addRepo('org/pickled', { files: { 'config.json': config, 'pytorch_model.bin': new Uint8Array(10) } });
    const error = await resolveModelSource('hf:org/pickled', options()).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'FILE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(/safetensors/);
  });

  it('a download failing its sha256 check: HUB_ERROR, the partial file deleted, no blob and no snapshot entry', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    hub.injectFault(hub.cdnPathOf(weights), { kind: 'corrupt', times: 1 });
    const error = await resolveModelSource('hf:org/tiny', options()).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'HUB_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(/integrity check/);
    const tree = await cacheTree('models--org--tiny');
    // No snapshot or ref, and the corrupt download is gone. Downloads running beside it are cancelled by
    // design and may keep their own .incomplete files to resume from.
    expect(tree.filter((path) => path.startsWith('snapshots/') || path.startsWith('refs/'))).toEqual([]);
    expect(tree).not.toContain(`blobs/${sha256Hex(weights)}.incomplete`);
    expect(tree).not.toContain(`blobs/${sha256Hex(weights)}`);
    // The next run downloads cleanly and fetches again only what had not arrived.
    const arrived = new Set(
      events.flatMap((event) => (event.type === 'file-done' && !event.cached ? [event.file] : [])),
    );
    hub.requests.length = 0;
    const resolved = await resolveModelSource('hf:org/tiny', options());
    expect(new Uint8Array(await readFile(join(resolved.directory, 'model.safetensors')))).toEqual(weights);
    const refetched = hub.requests
      .filter((request) => request.path.includes('/resolve/'))
      .map((request) => request.path.split('/').pop()!);
    expect(refetched).toContain('model.safetensors');
    for (const file of arrived) expect(refetched).not.toContain(file);
  });

  it('server errors that do not stop: HUB_ERROR after the retries, no snapshot or ref written', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    hub.injectFault(hub.cdnPathOf(weights), { kind: 'status', status: 503, times: 100 });
    const error = await resolveModelSource('hf:org/tiny', options({ retries: 2 })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'HUB_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(/HTTP 503/);
    expect(hub.requests.filter((request) => request.origin === 'cdn')).toHaveLength(3);
    expect(
      (await snapshotAndBlobFiles('models--org--tiny')).filter((path) => !path.startsWith('blobs/')),
    ).toEqual([]);
  });
});

describe('resolveModelSource resilience', () => {
  it('retries a metadata call and a download that answer 500 twice', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    hub.injectFault('/api/models/org/tiny/revision/main', { kind: 'status', status: 500, times: 2 });
    hub.injectFault(hub.cdnPathOf(weights), { kind: 'status', status: 500, times: 2 });
    const resolved = await resolveModelSource('hf:org/tiny', options());
    expect(new Uint8Array(await readFile(join(resolved.directory, 'model.safetensors')))).toEqual(weights);
    const retries = events.filter((event) => event.type === 'retry');
    expect(retries.map((event) => [event.file, event.reason])).toEqual([
      [undefined, 'HTTP 500'],
      [undefined, 'HTTP 500'],
      ['model.safetensors', 'HTTP 500'],
      ['model.safetensors', 'HTTP 500'],
    ]);
  });

  it('times out a request that never answers and retries it', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    hub.injectFault('/api/models/org/tiny/revision/main', { kind: 'hang', times: 1 });
    hub.injectFault(hub.cdnPathOf(weights), { kind: 'hang', times: 1 });
    const started = Date.now();
    const resolved = await resolveModelSource(
      'hf:org/tiny',
      options({ requestTimeoutMs: 150, stallTimeoutMs: 150 }),
    );
    expect(resolved.files).toContain('model.safetensors');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(events.filter((event) => event.type === 'retry').map((event) => event.reason)).toEqual([
      expect.stringMatching(/no data/),
      expect.stringMatching(/no data/),
    ]);
  });

  it('resumes a download whose connection drops mid-file with a Range request', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    hub.injectFault(hub.cdnPathOf(weights), { kind: 'drop', afterBytes: 20_000, times: 1 });
    const resolved = await resolveModelSource('hf:org/tiny', options());
    expect(new Uint8Array(await readFile(join(resolved.directory, 'model.safetensors')))).toEqual(weights);
    const cdnRequests = hub.requests.filter((request) => request.origin === 'cdn');
    expect(cdnRequests.map((request) => request.range)).toEqual([undefined, 'bytes=20000-']);
    expect(events.filter((event) => event.type === 'retry')).toHaveLength(1);
  });

  it('resumes a partial download left by an earlier run (blobs/<sha256>.incomplete)', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    const incomplete = join(cacheDir, 'models--org--tiny', 'blobs', `${sha256Hex(weights)}.incomplete`);
    await mkdir(dirname(incomplete), { recursive: true });
    await writeFile(incomplete, weights.subarray(0, 30_000));
    const resolved = await resolveModelSource('hf:org/tiny', options());
    expect(new Uint8Array(await readFile(join(resolved.directory, 'model.safetensors')))).toEqual(weights);
    expect(
      hub.requests.filter((request) => request.origin === 'cdn').map((request) => request.range),
    ).toEqual(['bytes=30000-']);
    expect(
      events.find((event) => event.type === 'file-start' && event.file === 'model.safetensors'),
    ).toMatchObject({ resumedFromBytes: 30_000 });
    expect(existsSync(incomplete)).toBe(false);
  });

  it('starts over when an earlier partial file was damaged (the checksum fails after resuming)', async () => {
    hub.addRepo('org/tiny', { files: singleFileRepo() });
    const incomplete = join(cacheDir, 'models--org--tiny', 'blobs', `${sha256Hex(weights)}.incomplete`);
    await mkdir(dirname(incomplete), { recursive: true });
    await writeFile(incomplete, new Uint8Array(30_000).fill(7));
    const resolved = await resolveModelSource('hf:org/tiny', options());
    expect(new Uint8Array(await readFile(join(resolved.directory, 'model.safetensors')))).toEqual(weights);
    expect(
      hub.requests.filter((request) => request.origin === 'cdn').map((request) => request.range),
    ).toEqual(['bytes=30000-', undefined]);
  });
});

describe('resolveModelSource offline', () => {
  /** A cache written the way Python's huggingface_hub writes it, without traitlens. */
  async function prepopulateCache(
    commit: string,
    files: Record<string, string | Uint8Array>,
    branch = 'main',
  ): Promise<string> {
    const repoFolder = join(cacheDir, 'models--org--cached');
    for (const [file, content] of Object.entries(files)) {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      const etag = file.endsWith('.safetensors') ? sha256Hex(bytes) : gitBlobOid(bytes);
      await mkdir(join(repoFolder, 'blobs'), { recursive: true });
      await writeFile(join(repoFolder, 'blobs', etag), bytes);
      await mkdir(join(repoFolder, 'snapshots', commit), { recursive: true });
      await symlink(`../../blobs/${etag}`, join(repoFolder, 'snapshots', commit, file));
    }
    await mkdir(join(repoFolder, 'refs'), { recursive: true });
    await writeFile(join(repoFolder, 'refs', branch), commit);
    return join(repoFolder, 'snapshots', commit);
  }
  const commit = 'a'.repeat(40);

  it('HF_HUB_OFFLINE=1 resolves a pre-populated cache without any request', async () => {
    const directory = await prepopulateCache(commit, {
      'config.json': config,
      'model.safetensors': weights,
      'tokenizer.json': '{}',
    });
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    const resolved = await resolveModelSource('hf:org/cached', options());
    expect(resolved).toMatchObject({
      directory,
      revision: commit,
      repo: 'org/cached',
      files: ['config.json', 'model.safetensors', 'tokenizer.json'],
    });
    expect(hub.requests).toHaveLength(0);
    expect(events).toEqual([
      { type: 'revision-resolved', repo: 'org/cached', revision: 'main', commit, fromCache: true },
    ]);
  });

  it('offline with an empty cache: HUB_OFFLINE that says what to do', async () => {
    const error = await resolveModelSource('hf:org/cached', options({ offline: true })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'HUB_OFFLINE')).toBe(true);
    expect((error as Error).message).toMatch(/nothing of hf:org\/cached is cached/);
    expect((error as Error).message).toMatch(/HF_HUB_OFFLINE unset/);
    expect(hub.requests).toHaveLength(0);
  });

  it('offline with a cached config only: the model request fails, the configOnly request succeeds', async () => {
    await prepopulateCache(commit, { 'config.json': config });
    const error = await resolveModelSource('hf:org/cached', options({ offline: true })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'HUB_OFFLINE')).toBe(true);
    expect((error as Error).message).toMatch(/model\.safetensors/);
    expect(
      (await resolveModelSource('hf:org/cached', options({ offline: true, configOnly: true }))).files,
    ).toEqual(['config.json']);
  });

  it('offline with an unknown branch names the cached refs', async () => {
    await prepopulateCache(commit, { 'config.json': config, 'model.safetensors': weights });
    const error = await resolveModelSource('hf:org/cached@dev', options({ offline: true })).catch(
      (caught: unknown) => caught,
    );
    expect((error as Error).message).toMatch(/no revision "dev" \(cached refs: main\)/);
  });

  it('falls back to the cache when the Hub cannot be reached, and fails with HUB_OFFLINE when the cache is empty too', async () => {
    const directory = await prepopulateCache(commit, { 'config.json': config, 'model.safetensors': weights });
    const unreachable = 'http://127.0.0.1:9';
    const resolved = await resolveModelSource(
      'hf:org/cached',
      options({ endpoint: unreachable, retries: 1 }),
    );
    expect(resolved.directory).toBe(directory);
    expect(events.at(-1)).toMatchObject({ type: 'cache-fallback', commit });
    const error = await resolveModelSource(
      'hf:org/elsewhere',
      options({ endpoint: unreachable, retries: 1 }),
    ).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'HUB_OFFLINE')).toBe(true);
    expect((error as Error).message).toMatch(/Cannot reach the Hub at http:\/\/127\.0\.0\.1:9/);
    expect((error as Error).message).toMatch(/no usable copy/);
  });
});

describe('resolveModelSource with a local folder', () => {
  it('lists the files of a folder, shards included', async () => {
    const folder = join(cacheDir, 'local-model');
    await mkdir(folder);
    await writeFile(join(folder, 'config.json'), config);
    await writeFile(join(folder, 'model.safetensors.index.json'), shardIndex);
    await writeFile(join(folder, 'model-00001-of-00002.safetensors'), shardOne);
    await writeFile(join(folder, 'model-00002-of-00002.safetensors'), shardTwo);
    await writeFile(join(folder, 'tokenizer_config.json'), '{}');
    const resolved = await resolveModelSource(folder);
    expect(resolved).toMatchObject({ directory: folder, revision: undefined, repo: undefined });
    expect(resolved.files).toEqual([
      'config.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'tokenizer_config.json',
    ]);
    await rm(join(folder, 'model-00002-of-00002.safetensors'));
    await expect(resolveModelSource(folder)).rejects.toThrow(/model-00002-of-00002\.safetensors/);
  });

  it('explains a missing folder and a folder that is an adapter', async () => {
    await expect(resolveModelSource(join(cacheDir, 'nope'))).rejects.toThrow(/does not exist/);
    const adapter = join(cacheDir, 'adapter');
    await mkdir(adapter);
    await writeFile(join(adapter, 'adapter_config.json'), '{}');
    await expect(resolveModelSource(adapter)).rejects.toThrow(/LoRA adapter/);
    await expect(resolveModelSource(adapter, { kind: 'adapter' })).rejects.toThrow(
      /adapter_model\.safetensors/,
    );
  });

  const stories = stories260kDirectory;
  it.skipIf(!existsSync(stories))(
    'resolves ../shared/models/stories260k/hf (skipped when that folder is absent)',
    async () => {
      const resolved = await resolveModelSource(stories);
      expect(resolved.files).toEqual([
        'config.json',
        'model.safetensors',
        'generation_config.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'special_tokens_map.json',
      ]);
    },
  );
});
