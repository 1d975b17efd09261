import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import {
  createStallController,
  describeNetworkError,
  type HubRequestContext,
  hubResponseError,
  hubUnreachableError,
  isRetryableStatus,
  requestHeaders,
  retryDelay,
  waitBeforeRetry,
} from './hub-http';
import type { HubSettings } from './hub-settings';

/** One file to fetch into `blobs/`, with what the Hub's file listing promised about it. */
export interface BlobDownload {
  url: string;
  blobPath: string;
  size: number;
  /** LFS files: the sha256 of the content (also their etag). */
  sha256?: string;
  /** Regular git files: the git blob sha1 (also their etag), i.e. sha1("blob <size>\0" + content). */
  gitBlobOid?: string;
}

const maxRedirects = 10;

/** The hash the listing promised, fed from the first byte; git blob ids hash a header first. */
function createDigest(download: BlobDownload): {
  hash: Hash | undefined;
  expected: string | undefined;
  kind: string;
} {
  if (download.sha256) return { hash: createHash('sha256'), expected: download.sha256, kind: 'sha256' };
  if (download.gitBlobOid) {
    const hash = createHash('sha1');
    hash.update(`blob ${download.size}\0`);
    return { hash, expected: download.gitBlobOid, kind: 'git blob sha1' };
  }
  return { hash: undefined, expected: undefined, kind: 'none' };
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashPrefix(hash: Hash, path: string, length: number): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1 }))
    hash.update(chunk as Buffer);
}

/**
 * Follows redirects by hand: the token goes only to the Hub's own origin, never to the CDN a
 * `resolve` URL redirects to.
 */
async function fetchFollowingRedirects(
  settings: HubSettings,
  url: string,
  headers: ConstructorParameters<typeof Headers>[0],
  signal: AbortSignal,
): Promise<Response> {
  let current = url;
  for (let hop = 0; hop <= maxRedirects; hop++) {
    const response = await fetch(current, {
      headers: requestHeaders(settings, current, headers),
      redirect: 'manual',
      signal,
    });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current).href;
      continue;
    }
    return response;
  }
  throw new TraitlensError('HUB_ERROR', `More than ${maxRedirects} redirects while downloading ${url}.`, {
    details: { url },
  });
}

/**
 * Downloads into `<blob>.incomplete`, resuming from whatever is already there with a Range request (also
 * after a crash or a dropped connection), checks the size and the sha256 / git sha1 the listing gave, and
 * only then renames it to the blob. A failed check deletes the partial file, so a bad download is never
 * reused; a cancelled or failed transfer keeps it for the next resume.
 */
export async function downloadBlob(
  settings: HubSettings,
  download: BlobDownload,
  context: HubRequestContext,
  progress: { onStart(resumedFromBytes: number): void; onBytes(bytes: number): void },
  signal: AbortSignal | undefined = settings.signal,
): Promise<void> {
  const incomplete = `${download.blobPath}.incomplete`;
  await mkdir(dirname(download.blobPath), { recursive: true });
  let offset = await fileSize(incomplete);
  if (offset > download.size) {
    await rm(incomplete, { force: true });
    offset = 0;
  }
  const resumedFromPreviousRun = offset > 0;
  let digest = createDigest(download);
  if (digest.hash) await hashPrefix(digest.hash, incomplete, offset);
  const restart = async () => {
    await rm(incomplete, { force: true });
    offset = 0;
    digest = createDigest(download);
  };
  progress.onStart(offset);
  if (download.size === 0) await ensureFile(incomplete);

  let attempt = 0;
  while (offset < download.size) {
    signal?.throwIfAborted();
    attempt++;
    let startOffset = offset;
    const stall = createStallController(settings.stallTimeoutMs, signal);
    let failure: unknown;
    try {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const response = await fetchFollowingRedirects(settings, download.url, headers, stall.signal);
      if (response.status === 416 && offset > 0) {
        // The server says the range starts at or past the end: the partial file is not what the listing promised.
        await response.body?.cancel();
        await restart();
        continue;
      }
      if (!response.ok) {
        const body = await response.text().catch(() => '');
        if (!isRetryableStatus(response.status)) throw hubResponseError(settings, response, context, body);
        failure = Object.assign(new Error(`HTTP ${response.status}`), {
          retryAfter: response.headers.get('retry-after'),
          status: response.status,
        });
      } else {
        if (response.status === 200 && offset > 0) {
          // The server ignored the Range header and sends the whole file again.
          await restart();
          startOffset = 0;
        } else if (
          response.status === 206 &&
          !contentRangeStartsAt(response.headers.get('content-range'), offset)
        ) {
          await response.body?.cancel();
          await restart();
          continue;
        }
        const handle = await open(incomplete, offset === 0 ? 'w' : 'a');
        try {
          if (!response.body) throw new Error('the response has no body');
          for await (const chunk of response.body) {
            stall.touch();
            const bytes = chunk as Uint8Array;
            if (offset + bytes.byteLength > download.size) {
              await handle.close().catch(() => {});
              await restart();
              throw new TraitlensError(
                'HUB_ERROR',
                `The Hub sent more than the ${download.size} bytes listed for ${context.file ?? download.url}; the partial download was deleted. Retry; report the repo if it persists.`,
                {
                  details: { ...context, expectedBytes: download.size },
                },
              );
            }
            await handle.write(bytes);
            digest.hash?.update(bytes);
            offset += bytes.byteLength;
            progress.onBytes(offset);
          }
          await handle.sync();
        } finally {
          await handle.close().catch(() => {});
        }
        if (offset < download.size)
          failure = new Error(`the connection closed after ${offset} of ${download.size} bytes`);
      }
    } catch (error) {
      if (TraitlensError.isInstance(error)) throw error;
      signal?.throwIfAborted();
      failure = stall.signal.aborted ? stall.signal.reason : error;
    } finally {
      stall.dispose();
    }
    if (failure === undefined) continue;
    // Progress this round means the link works; only consecutive fruitless attempts count against the limit.
    if (offset > startOffset) attempt = 1;
    if (attempt > settings.retries) {
      const status = (failure as { status?: number }).status;
      if (status !== undefined) {
        throw new TraitlensError(
          'HUB_ERROR',
          `Downloading ${context.file ?? download.url} from hf:${context.repo} kept failing with HTTP ${status} (${settings.retries} retries); ${offset} of ${download.size} bytes are kept and resume next time.`,
          {
            cause: failure,
            details: { ...context, status, bytes: offset, expectedBytes: download.size },
          },
        );
      }
      throw hubUnreachableError(settings, context, failure);
    }
    const delayMs = retryDelay(settings, attempt, (failure as { retryAfter?: string | null }).retryAfter);
    settings.onProgress({
      type: 'retry',
      repo: context.repo,
      file: context.file,
      attempt,
      delayMs,
      reason: describeNetworkError(failure),
    });
    await waitBeforeRetry(delayMs, signal);
  }

  const actual = digest.hash?.digest('hex');
  if (digest.expected !== undefined && actual !== digest.expected) {
    await rm(incomplete, { force: true });
    if (resumedFromPreviousRun) {
      // The partial file from an earlier run may have been damaged; one fresh download settles it.
      return downloadBlob(settings, download, context, progress, signal);
    }
    throw new TraitlensError(
      'HUB_ERROR',
      `${context.file ?? download.url} from hf:${context.repo} failed its integrity check (${digest.kind} ${actual} instead of ${digest.expected}); the download was deleted. Retry; if it persists, a proxy may be altering downloads.`,
      { details: { ...context, expected: digest.expected, actual } },
    );
  }
  await rename(incomplete, download.blobPath);
}

function contentRangeStartsAt(header: string | null, offset: number): boolean {
  const match = header ? /^bytes (\d+)-/.exec(header) : null;
  return match !== null && Number(match[1]) === offset;
}

async function ensureFile(path: string): Promise<void> {
  const handle = await open(path, 'a');
  await handle.close();
}
