import { resolve } from 'node:path';
import { TraitlensError } from '@traitlens/core';

/** Where a model comes from: a Hugging Face Hub repository at a revision, or a local directory. */
export type ModelSource =
  | {
      kind: 'hub';
      repo: string;
      revision: string /** True when the source named no revision. */;
      defaultRevision: boolean;
    }
  | { kind: 'local'; path: string };

const hubPrefix = 'hf:';
const repoSegment = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/**
 * Parses `hf:org/name[@revision]` (revision: branch, tag or commit sha; default `main`) or a local
 * directory path. Repo ids are checked the way the Hub checks them, because the id becomes a cache folder
 * name (`models--org--name`) and the revision a file under `refs/`: neither may escape the cache.
 */
export function parseModelSource(source: string): ModelSource {
  if (!source.startsWith(hubPrefix)) {
    if (source.trim() === '')
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        'The model source is empty; pass hf:org/name[@revision] or a local directory path.',
      );
    return { kind: 'local', path: resolve(source) };
  }
  const body = source.slice(hubPrefix.length);
  const at = body.indexOf('@');
  const repo = at === -1 ? body : body.slice(0, at);
  const revision = at === -1 ? 'main' : body.slice(at + 1);
  const segments = repo.split('/');
  const validRepo =
    repo.length > 0 &&
    repo.length <= 96 &&
    segments.length <= 2 &&
    segments.every(
      (segment) => repoSegment.test(segment) && !segment.includes('--') && !segment.includes('..'),
    );
  if (!validRepo) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `"${source}" is not a valid Hub model id; write hf:org/name or hf:org/name@revision (letters, digits, "-", "_", "." only).`,
      {
        details: { source },
      },
    );
  }
  const revisionParts = revision.split('/');
  if (
    revision === '' ||
    revision.startsWith('/') ||
    revisionParts.some((part) => part === '' || part === '.' || part === '..') ||
    /[\\\s]/.test(revision)
  ) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `"${source}" has an invalid revision "${revision}"; use a branch, a tag or a 40-character commit sha after "@".`,
      {
        details: { source, revision },
      },
    );
  }
  return { kind: 'hub', repo, revision, defaultRevision: at === -1 };
}

/** True for a full 40-hex-digit git commit sha (what the cache's snapshot folders are named by). */
export function isCommitSha(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}
