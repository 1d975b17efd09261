import { mkdir, readdir, readFile, stat, statfs } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { type ListFileEntry, listFiles, modelInfo } from '@huggingface/hub';
import { TraitlensError } from '@traitlens/core';
import { assertLocalModelFolder } from './assert-local-model-folder';
import { type BlobDownload, downloadBlob } from './download-blob';
import { createHubFetch, type HubRequestContext } from './hub-http';
import { HubRepoCache } from './hub-repo-cache';
import { type HubOptions, type HubSettings, resolveHubSettings } from './hub-settings';
import {
  assertSafeRelativePath,
  type ModelFileRequest,
  type ModelSourceKind,
  selectModelFiles,
  shardFilesFromIndex,
} from './model-file-selection';
import { isCommitSha, type ModelSource, parseModelSource } from './parse-model-source';

export interface ResolveModelSourceOptions extends HubOptions {
  /** `model` (default): config, tokenizer and safetensors weights. `adapter`: a PEFT LoRA (adapter_config.json + adapter_model.safetensors). */
  kind?: ModelSourceKind;
  /** Fetch only config.json / adapter_config.json, e.g. to plan memory before downloading the weights. */
  configOnly?: boolean;
}

/** A model ready on local disk. */
export interface ResolvedModelSource {
  /** The folder holding the files: the cache snapshot for Hub sources, the folder itself for local ones. */
  directory: string;
  /** The commit sha the snapshot belongs to (branches and tags are resolved); undefined for a local folder. */
  revision: string | undefined;
  /** `org/name` for Hub sources; undefined for a local folder. */
  repo: string | undefined;
  /** Files traitlens will read, relative to `directory`: config first, then weights (index and shards), then tokenizer files. */
  files: string[];
  source: ModelSource;
}

/**
 * Makes `hf:org/name[@revision]` or a local folder available on disk and says which files to read.
 *
 * Hub sources: only the needed files are fetched, into the standard Hugging Face cache (shared with
 * Python); a branch or tag is pinned to its commit sha; a cached snapshot is used without any request
 * when the revision is a sha, offline (`HF_HUB_OFFLINE=1`), or when the Hub cannot be reached. Downloads
 * resume, retry, time out on stalls and are verified before they enter the cache; snapshot links and the
 * ref are written only after every file arrived, so a failed run never leaves a half snapshot behind.
 */
export async function resolveModelSource(
  source: string,
  options: ResolveModelSourceOptions = {},
): Promise<ResolvedModelSource> {
  const parsed = parseModelSource(source);
  const request: ModelFileRequest = {
    kind: options.kind ?? 'model',
    configOnly: options.configOnly ?? false,
  };
  if (parsed.kind === 'local') return resolveLocalDirectory(parsed, request);
  const settings = resolveHubSettings(options);
  const hub: HubResolution = {
    source,
    parsed,
    request,
    settings,
    cache: new HubRepoCache(settings.cacheDir, parsed.repo),
    context: { repo: parsed.repo, revision: parsed.revision },
  };
  if (settings.offline) return resolveOffline(hub);
  // A commit sha never moves, so a complete snapshot of it needs no request at all.
  if (isCommitSha(parsed.revision)) {
    const cached = await findCachedSnapshot(hub.cache, parsed, request);
    if (cached.resolved) return cached.resolved;
  }
  const listing = await fetchRepoListing(hub);
  if (listing.kind === 'cached') return listing.resolved;
  return downloadSnapshot(hub, listing);
}

/** One Hub source being resolved: what was asked for, and where it is cached. */
interface HubResolution {
  /** The source as the caller wrote it. */
  source: string;
  parsed: Extract<ModelSource, { kind: 'hub' }>;
  request: ModelFileRequest;
  settings: HubSettings;
  cache: HubRepoCache;
  context: HubRequestContext;
}

/** The commit a revision points at now and the files of that commit. */
interface RepoListing {
  kind: 'listed';
  commit: string;
  repoFiles: Set<string>;
}

/** Offline: the cached snapshot of the revision, or HUB_OFFLINE saying why the cache cannot serve it. */
async function resolveOffline(hub: HubResolution): Promise<ResolvedModelSource> {
  const { parsed, settings } = hub;
  const cached = await findCachedSnapshot(hub.cache, parsed, hub.request);
  if (cached.resolved) {
    settings.onProgress({
      type: 'revision-resolved',
      repo: parsed.repo,
      revision: parsed.revision,
      commit: cached.resolved.revision,
      fromCache: true,
    });
    return cached.resolved;
  }
  throw new TraitlensError(
    'HUB_OFFLINE',
    `Offline mode (HF_HUB_OFFLINE or the offline option) and ${hub.source} is not usable from the cache in ${settings.cacheDir}: ${cached.reason}. Run once with network access (HF_HUB_OFFLINE unset) to download it, or point HF_HUB_CACHE at a cache that has it.`,
    {
      details: {
        repo: parsed.repo,
        revision: parsed.revision,
        cacheDir: settings.cacheDir,
        reason: cached.reason,
      },
    },
  );
}

/**
 * Asks the Hub which commit the revision is and which files it has. When the Hub cannot be reached, a
 * cached snapshot stands in (reported as a cache fallback); without one the error says both.
 */
async function fetchRepoListing(
  hub: HubResolution,
): Promise<RepoListing | { kind: 'cached'; resolved: ResolvedModelSource }> {
  const { parsed, settings } = hub;
  let listing: RepoListing;
  try {
    const info = await modelInfo({
      name: parsed.repo,
      revision: parsed.revision,
      additionalFields: ['sha', 'filePaths'],
      hubUrl: settings.endpoint,
      fetch: createHubFetch(settings, hub.context),
    });
    listing = { kind: 'listed', commit: info.sha, repoFiles: new Set(info.filePaths) };
  } catch (error) {
    if (!isConnectivityFailure(error)) throw error;
    return { kind: 'cached', resolved: await fallBackToCache(hub, error as TraitlensError) };
  }
  const { commit } = listing;
  if (typeof commit !== 'string' || !isCommitSha(commit)) {
    throw new TraitlensError(
      'HUB_ERROR',
      `The Hub at ${settings.endpoint} returned no commit sha for ${hub.source} (got ${JSON.stringify(commit)}); is HF_ENDPOINT a Hugging Face Hub?`,
      {
        details: { repo: parsed.repo, revision: parsed.revision },
      },
    );
  }
  settings.onProgress({
    type: 'revision-resolved',
    repo: parsed.repo,
    revision: parsed.revision,
    commit,
    fromCache: false,
  });
  return listing;
}

async function fallBackToCache(hub: HubResolution, failure: TraitlensError): Promise<ResolvedModelSource> {
  const { parsed, settings } = hub;
  const cached = await findCachedSnapshot(hub.cache, parsed, hub.request);
  if (cached.resolved) {
    settings.onProgress({
      type: 'cache-fallback',
      repo: parsed.repo,
      revision: parsed.revision,
      commit: cached.resolved.revision,
      reason: failure.message,
    });
    return cached.resolved;
  }
  throw new TraitlensError(
    'HUB_OFFLINE',
    `${failure.message} The cache in ${settings.cacheDir} has no usable copy either: ${cached.reason}.`,
    {
      cause: failure,
      details: { ...failure.details, cacheDir: settings.cacheDir, cacheReason: cached.reason },
    },
  );
}

/**
 * Fetches the selected files of the commit (and the weight shards its index lists) into the cache, then
 * links the snapshot and writes the ref.
 */
async function downloadSnapshot(hub: HubResolution, listing: RepoListing): Promise<ResolvedModelSource> {
  const { parsed, settings } = hub;
  const { commit, repoFiles } = listing;
  const where = `hf:${parsed.repo}@${parsed.revision}`;
  const selection = selectModelFiles(repoFiles, hub.request, where);
  const fetcher = new SnapshotFetcher({
    settings,
    cache: hub.cache,
    context: { repo: parsed.repo, revision: commit },
    listRepoFiles: () =>
      listFiles({
        repo: { type: 'model', name: parsed.repo },
        revision: commit,
        recursive: true,
        hubUrl: settings.endpoint,
        fetch: createHubFetch(settings, hub.context),
      }),
  });
  const files = [...selection.required, ...selection.optional];
  await fetcher.fetch(files);
  if (selection.weightIndex) {
    const shards = shardFilesFromIndex(
      await fetcher.readText(selection.weightIndex),
      selection.weightIndex,
      where,
    );
    const absent = shards.filter((shard) => !repoFiles.has(shard));
    if (absent.length > 0) {
      throw new TraitlensError(
        'HUB_ERROR',
        `${where}: ${selection.weightIndex} lists shards the repo does not have: ${absent.join(', ')}. The repo is incomplete; pick another revision.`,
        {
          details: { repo: parsed.repo, revision: commit, missing: absent },
        },
      );
    }
    await fetcher.fetch(shards);
    files.splice(selection.required.length, 0, ...shards);
  }
  await fetcher.commitSnapshot();
  await hub.cache.writeRef(parsed.revision, commit);
  return {
    directory: hub.cache.snapshotDirectory(commit),
    revision: commit,
    repo: parsed.repo,
    files,
    source: parsed,
  };
}

/** Network trouble or a failing server (not a definite answer like 401/404): the cache may stand in. */
function isConnectivityFailure(error: unknown): boolean {
  if (TraitlensError.hasCode(error, 'HUB_OFFLINE')) return true;
  const status = TraitlensError.hasCode(error, 'HUB_ERROR')
    ? (error.details.status as number | undefined)
    : undefined;
  return status !== undefined && status >= 500;
}

type CacheLookup =
  | { resolved: ResolvedModelSource & { revision: string }; reason?: undefined }
  | { resolved?: undefined; reason: string };

/** The cached snapshot for a revision, if it holds every required file (and every shard its index lists). */
async function findCachedSnapshot(
  cache: HubRepoCache,
  source: Extract<ModelSource, { kind: 'hub' }>,
  request: ModelFileRequest,
): Promise<CacheLookup> {
  const commit = await cache.readRef(source.revision);
  if (!commit) {
    const refs = await cache.listRefs();
    return {
      reason:
        refs.length > 0
          ? `it knows no revision "${source.revision}" (cached refs: ${refs.join(', ')})`
          : `nothing of hf:${source.repo} is cached`,
    };
  }
  const directory = cache.snapshotDirectory(commit);
  const available = await listFilesRecursively(directory);
  if (available.size === 0) return { reason: `snapshot ${commit} of hf:${source.repo} is not cached` };
  const where = `hf:${source.repo}@${commit} (cached)`;
  try {
    const selection = selectModelFiles(available, request, where);
    const files = [...selection.required, ...selection.optional];
    if (selection.weightIndex) {
      const shards = shardFilesFromIndex(
        await readFile(join(directory, selection.weightIndex), 'utf8'),
        selection.weightIndex,
        where,
      );
      const missing = shards.filter((shard) => !available.has(shard));
      if (missing.length > 0)
        return {
          reason: `snapshot ${commit} lacks ${missing.length} weight shard(s): ${missing.join(', ')}`,
        };
      files.splice(selection.required.length, 0, ...shards);
    }
    return { resolved: { directory, revision: commit, repo: source.repo, files, source } };
  } catch (error) {
    if (TraitlensError.isInstance(error)) return { reason: `snapshot ${commit}: ${error.message}` };
    throw error;
  }
}

/** Relative paths (with `/`) of the regular files under a folder, following symlinks; dangling links are left out. */
async function listFilesRecursively(directory: string): Promise<Set<string>> {
  const files = new Set<string>();
  let entries: string[];
  try {
    entries = await readdir(directory, { recursive: true, encoding: 'utf8' });
  } catch {
    return files;
  }
  await Promise.all(
    entries.map(async (entry) => {
      const path = join(directory, entry);
      try {
        if ((await stat(path)).isFile()) files.add(relative(directory, path).split(sep).join('/'));
      } catch {
        // A dangling link is a file that is not really there.
      }
    }),
  );
  return files;
}

async function resolveLocalDirectory(
  source: Extract<ModelSource, { kind: 'local' }>,
  request: ModelFileRequest,
): Promise<ResolvedModelSource> {
  await assertLocalModelFolder(source.path);
  const topLevel = new Set<string>();
  for (const entry of await readdir(source.path)) {
    try {
      if ((await stat(join(source.path, entry))).isFile()) topLevel.add(entry);
    } catch {
      // Dangling link: not a usable file.
    }
  }
  const selection = selectModelFiles(topLevel, request, source.path);
  const files = [...selection.required, ...selection.optional];
  if (selection.weightIndex) {
    const shards = shardFilesFromIndex(
      await readFile(join(source.path, selection.weightIndex), 'utf8'),
      selection.weightIndex,
      source.path,
    );
    const missing: string[] = [];
    for (const shard of shards) {
      try {
        if (!(await stat(join(source.path, shard))).isFile()) missing.push(shard);
      } catch {
        missing.push(shard);
      }
    }
    if (missing.length > 0) {
      throw new TraitlensError(
        'FILE_NOT_FOUND',
        `${source.path}: ${selection.weightIndex} lists shard(s) that are not in the folder: ${missing.join(', ')}. Copy the missing shards or re-download the model.`,
        {
          details: { path: source.path, missing },
        },
      );
    }
    files.splice(selection.required.length, 0, ...shards);
  }
  return { directory: source.path, revision: undefined, repo: undefined, files, source };
}

interface PendingLink {
  file: string;
  etag: string;
}

/**
 * Fetches files of one commit into blobs/ and remembers the snapshot links to make; the links are only
 * made by commitSnapshot(), after everything arrived.
 */
class SnapshotFetcher {
  private listing: Map<string, ListFileEntry> | undefined;
  private readonly links: PendingLink[] = [];

  private readonly settings: HubSettings;
  private readonly cache: HubRepoCache;
  private readonly context: { repo: string; revision: string };
  private readonly listRepoFiles: () => AsyncIterable<ListFileEntry>;

  constructor(options: {
    settings: HubSettings;
    cache: HubRepoCache;
    context: { repo: string; revision: string };
    listRepoFiles: () => AsyncIterable<ListFileEntry>;
  }) {
    this.settings = options.settings;
    this.cache = options.cache;
    this.context = options.context;
    this.listRepoFiles = options.listRepoFiles;
  }

  private async entry(file: string): Promise<ListFileEntry> {
    if (!this.listing) {
      this.listing = new Map();
      for await (const entry of this.listRepoFiles())
        if (entry.type === 'file') this.listing.set(entry.path, entry);
    }
    const entry = this.listing.get(file);
    if (!entry) {
      throw new TraitlensError(
        'HUB_ERROR',
        `hf:${this.context.repo}@${this.context.revision}: the file listing has no ${file} although the repo info named it; retry later.`,
        {
          details: { ...this.context, file },
        },
      );
    }
    return entry;
  }

  /** Downloads the files not already in the snapshot or the blob store, a few at a time. */
  async fetch(files: readonly string[]): Promise<void> {
    const downloads: { file: string; download: BlobDownload }[] = [];
    for (const file of files) {
      assertSafeRelativePath(file, `hf:${this.context.repo}`);
      if (await this.cache.hasSnapshotFile(this.context.revision, file)) {
        const size = (await stat(join(this.cache.snapshotDirectory(this.context.revision), file))).size;
        this.settings.onProgress({
          type: 'file-done',
          repo: this.context.repo,
          file,
          totalBytes: size,
          cached: true,
        });
        continue;
      }
      const entry = await this.entry(file);
      const etag = entry.lfs?.oid ?? entry.oid;
      if (!etag || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) {
        throw new TraitlensError(
          'HUB_ERROR',
          `hf:${this.context.repo}: the file listing gives ${file} no usable id (${JSON.stringify(etag)}); is HF_ENDPOINT a Hugging Face Hub?`,
          {
            details: { ...this.context, file },
          },
        );
      }
      this.links.push({ file, etag });
      const size = entry.lfs?.size ?? entry.size;
      if (await this.cache.hasBlob(etag)) {
        this.settings.onProgress({
          type: 'file-done',
          repo: this.context.repo,
          file,
          totalBytes: size,
          cached: true,
        });
        continue;
      }
      const encodedPath = file.split('/').map(encodeURIComponent).join('/');
      downloads.push({
        file,
        download: {
          url: `${this.settings.endpoint}/${this.context.repo}/resolve/${this.context.revision}/${encodedPath}`,
          blobPath: this.cache.blobPath(etag),
          size,
          ...(entry.lfs ? { sha256: entry.lfs.oid } : { gitBlobOid: etag }),
        },
      });
    }
    if (downloads.length === 0) return;
    await this.assertDiskSpace(downloads.map((item) => item.download));
    await this.runPool(downloads);
  }

  private async runPool(downloads: readonly { file: string; download: BlobDownload }[]): Promise<void> {
    // One failure cancels the rest (their partial files stay and resume next time) instead of letting other
    // multi-gigabyte shards run on for a result that will be thrown away.
    const batch = new AbortController();
    const onOuterAbort = () => batch.abort(this.settings.signal?.reason);
    this.settings.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let next = 0;
    let firstError: unknown;
    const worker = async () => {
      while (firstError === undefined && next < downloads.length) {
        const { file, download } = downloads[next++]!;
        const context = { ...this.context, file };
        try {
          await downloadBlob({
            settings: this.settings,
            download,
            context,
            progress: {
              onStart: (resumedFromBytes) =>
                this.settings.onProgress({
                  type: 'file-start',
                  repo: this.context.repo,
                  file,
                  totalBytes: download.size,
                  resumedFromBytes,
                }),
              onBytes: (bytes) =>
                this.settings.onProgress({
                  type: 'file-progress',
                  repo: this.context.repo,
                  file,
                  bytes,
                  totalBytes: download.size,
                }),
            },
            signal: batch.signal,
          });
          this.settings.onProgress({
            type: 'file-done',
            repo: this.context.repo,
            file,
            totalBytes: download.size,
            cached: false,
          });
        } catch (error) {
          if (firstError === undefined) {
            firstError = error;
            batch.abort(error);
          }
        }
      }
    };
    try {
      await Promise.all(
        Array.from({ length: Math.min(this.settings.concurrency, downloads.length) }, worker),
      );
    } finally {
      this.settings.signal?.removeEventListener('abort', onOuterAbort);
    }
    if (firstError !== undefined) throw firstError;
  }

  private async assertDiskSpace(downloads: readonly BlobDownload[]): Promise<void> {
    let needed = 0;
    for (const download of downloads) {
      let partial = 0;
      try {
        partial = (await stat(`${download.blobPath}.incomplete`)).size;
      } catch {
        // Nothing downloaded yet.
      }
      needed += Math.max(0, download.size - partial);
    }
    await mkdir(this.cache.folder, { recursive: true });
    const space = await statfs(this.cache.folder);
    const available = space.bavail * space.bsize;
    if (needed > available) {
      const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
      throw new TraitlensError(
        'HUB_ERROR',
        `Not enough disk space for hf:${this.context.repo}: ${gb(needed)} to download but ${gb(available)} free in ${this.cache.cacheDir}. Free space or set HF_HUB_CACHE to a larger disk.`,
        {
          details: { ...this.context, neededBytes: needed, availableBytes: available },
        },
      );
    }
  }

  /** Text of a file fetched by this run or already in the snapshot. */
  async readText(file: string): Promise<string> {
    const link = this.links.find((item) => item.file === file);
    return readFile(
      link ? this.cache.blobPath(link.etag) : join(this.cache.snapshotDirectory(this.context.revision), file),
      'utf8',
    );
  }

  async commitSnapshot(): Promise<void> {
    for (const { file, etag } of this.links)
      await this.cache.linkSnapshotFile(this.context.revision, file, etag);
  }
}
