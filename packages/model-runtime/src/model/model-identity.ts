import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeJsonAtomic } from '@traitlens/core';
import { defaultCacheDirectory } from '../graph/graph-cache';

export interface ModelIdentityOptions {
  /** Where per-file hashes are remembered (default TRAITLENS_CACHE or ~/.cache/traitlens). */
  cacheDirectory?: string | undefined;
}

/** The files of a model or adapter folder whose content decides what the model computes. */
function isIdentityFile(name: string): boolean {
  return (
    name.endsWith('.safetensors') ||
    name.endsWith('.json') ||
    name.endsWith('.jinja') ||
    name === 'tokenizer.model' ||
    name === 'merges.txt' ||
    name === 'vocab.txt'
  );
}

const hubSnapshot = /(?:^|\/)models--([^/]+?)--([^/]+)\/snapshots\/([0-9a-f]{40})(?:\/|$)/;
const sha256Name = /^[0-9a-f]{64}$/;
const memory = new Map<string, Promise<string>>();

/**
 * What a model (or LoRA adapter) is, by content rather than by where it was loaded from, so that
 * processes on different machines, with the same weights at different paths, agree:
 * - `hf:org/name@<commit>` stays as it is (a Hub commit pins every file);
 * - a folder inside a Hugging Face cache snapshot (`.../models--org--name/snapshots/<commit>`) is that
 *   `hf:org/name@<commit>`;
 * - any other folder is `sha256:<hex>` over the names and SHA-256 of its weight, config and tokenizer
 *   files (`*.safetensors`, `*.json`, `*.jinja`, `tokenizer.model`, `merges.txt`, `vocab.txt`). A file
 *   that links to a Hub blob named by its SHA-256 is not read again; other files are hashed once per
 *   machine (remembered by path, size, inode and modification time under `<cache>/identity/`).
 * Anything else (an id that is not a folder) is returned unchanged.
 */
export function computeModelIdentity(source: string, options: ModelIdentityOptions = {}): Promise<string> {
  let pending = memory.get(source);
  if (!pending) {
    pending = identify(source, options);
    memory.set(source, pending);
    pending.catch(() => memory.delete(source));
  }
  return pending;
}

async function identify(source: string, options: ModelIdentityOptions): Promise<string> {
  if (source.startsWith('hf:')) return source;
  let directory: string;
  try {
    directory = await realpath(source);
    if (!(await stat(directory)).isDirectory()) return source;
  } catch {
    return source;
  }
  const hub = hubSnapshot.exec(directory);
  if (hub) return `hf:${hub[1]}/${hub[2]}@${hub[3]}`;
  const names = (await readdir(directory)).filter(isIdentityFile).sort();
  const digest = createHash('sha256');
  for (const name of names) {
    const path = join(directory, name);
    if (!(await stat(path)).isFile()) continue;
    digest.update(`${name} ${await hashFile(path, options)}\n`);
  }
  return `sha256:${digest.digest('hex')}`;
}

async function hashFile(path: string, options: ModelIdentityOptions): Promise<string> {
  // Hub cache files link to blobs/<sha256> (LFS files): the name is the content hash.
  if ((await lstat(path)).isSymbolicLink()) {
    const target = basename(await readlink(path));
    if (sha256Name.test(target)) return target;
  }
  const real = await realpath(path);
  const info = await stat(real);
  const key = createHash('sha256')
    .update(`${real}\n${info.size}\n${info.ino}\n${info.mtimeMs}`)
    .digest('hex')
    .slice(0, 32);
  const cacheFile = join(options.cacheDirectory ?? defaultCacheDirectory(), 'identity', `${key}.json`);
  try {
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as { sha256?: unknown };
    if (typeof cached.sha256 === 'string' && sha256Name.test(cached.sha256)) return cached.sha256;
  } catch {
    // Not hashed on this machine yet.
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(real)) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  try {
    await mkdir(join(options.cacheDirectory ?? defaultCacheDirectory(), 'identity'), { recursive: true });
    await writeJsonAtomic(cacheFile, { path: real, size: info.size, sha256 });
  } catch {
    // A read-only cache only costs hashing again next time.
  }
  return sha256;
}
