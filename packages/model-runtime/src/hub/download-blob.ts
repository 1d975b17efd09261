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
  request: { url: string; headers: Record<string, string>; signal: AbortSignal },
): Promise<Response> {
  const { url, headers, signal } = request;
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

export interface DownloadBlobOptions {
  settings: HubSettings;
  download: BlobDownload;
  context: HubRequestContext;
  progress: { onStart(resumedFromBytes: number): void; onBytes(bytes: number): void };
  /** Cancels the transfer (default: the settings' signal); the partial file stays for the next resume. */
  signal?: AbortSignal | undefined;
}

/** A transfer in progress: the `.incomplete` file, how much of it is written, and the running hash. */
interface BlobTransfer {
  options: DownloadBlobOptions;
  signal: AbortSignal | undefined;
  incomplete: string;
  offset: number;
  /** Where the current attempt started (0 again once it restarts the file). */
  attemptStartOffset: number;
  /** Part of the file came from an earlier run (a hash mismatch then earns one fresh download). */
  resumedFromPreviousRun: boolean;
  digest: ReturnType<typeof createDigest>;
}

/** What one request achieved: done for now, restart at once, or a failure to retry after a pause. */
type AttemptOutcome = { kind: 'progressed' } | { kind: 'again' } | { kind: 'failed'; failure: unknown };

/**
 * Downloads into `<blob>.incomplete`, resuming from whatever is already there with a Range request (also
 * after a crash or a dropped connection), checks the size and the sha256 / git sha1 the listing gave, and
 * only then renames it to the blob. A failed check deletes the partial file, so a bad download is never
 * reused; a cancelled or failed transfer keeps it for the next resume.
 */
export async function downloadBlob(options: DownloadBlobOptions): Promise<void> {
  const transfer = await openTransfer(options);
  options.progress.onStart(transfer.offset);
  if (options.download.size === 0) await ensureFile(transfer.incomplete);
  await transferRemainingBytes(transfer);
  if (await verifyTransfer(transfer)) {
    await rename(transfer.incomplete, options.download.blobPath);
    return;
  }
  // The partial file from an earlier run may have been damaged; one fresh download settles it.
  return downloadBlob(options);
}

/** Picks up a partial file of an earlier run (one longer than the blob is dropped) and hashes what it holds. */
async function openTransfer(options: DownloadBlobOptions): Promise<BlobTransfer> {
  const { download } = options;
  const incomplete = `${download.blobPath}.incomplete`;
  await mkdir(dirname(download.blobPath), { recursive: true });
  let offset = await fileSize(incomplete);
  if (offset > download.size) {
    await rm(incomplete, { force: true });
    offset = 0;
  }
  const digest = createDigest(download);
  if (digest.hash) await hashPrefix(digest.hash, incomplete, offset);
  return {
    options,
    signal: options.signal ?? options.settings.signal,
    incomplete,
    offset,
    attemptStartOffset: offset,
    resumedFromPreviousRun: offset > 0,
    digest,
  };
}

async function restartTransfer(transfer: BlobTransfer): Promise<void> {
  await rm(transfer.incomplete, { force: true });
  transfer.offset = 0;
  transfer.attemptStartOffset = 0;
  transfer.digest = createDigest(transfer.options.download);
}

/** Requests until every byte is written; only consecutive fruitless attempts count against the retry limit. */
async function transferRemainingBytes(transfer: BlobTransfer): Promise<void> {
  const { settings, download } = transfer.options;
  let attempt = 0;
  while (transfer.offset < download.size) {
    transfer.signal?.throwIfAborted();
    attempt++;
    transfer.attemptStartOffset = transfer.offset;
    const outcome = await attemptTransfer(transfer);
    if (outcome.kind !== 'failed') continue;
    // Progress this round means the link works.
    if (transfer.offset > transfer.attemptStartOffset) attempt = 1;
    if (attempt > settings.retries) throw retriesExhaustedError(transfer, outcome.failure);
    const retryAfter = (outcome.failure as { retryAfter?: string | null }).retryAfter;
    const delayMs = retryDelay(settings, attempt, retryAfter);
    settings.onProgress({
      type: 'retry',
      repo: transfer.options.context.repo,
      file: transfer.options.context.file,
      attempt,
      delayMs,
      reason: describeNetworkError(outcome.failure),
    });
    await waitBeforeRetry(delayMs, transfer.signal);
  }
}

/** One request for the missing bytes, watched for stalls; network failures come back to be retried. */
async function attemptTransfer(transfer: BlobTransfer): Promise<AttemptOutcome> {
  const { settings, download } = transfer.options;
  const stall = createStallController(settings.stallTimeoutMs, transfer.signal);
  try {
    const headers: Record<string, string> = transfer.offset > 0 ? { range: `bytes=${transfer.offset}-` } : {};
    const response = await fetchFollowingRedirects(settings, {
      url: download.url,
      headers,
      signal: stall.signal,
    });
    if (!response.ok) return await failedResponse(transfer, response);
    if (!(await acceptsResponseRange(transfer, response))) return { kind: 'again' };
    await writeResponseBody(transfer, response, stall);
    if (transfer.offset < download.size)
      return {
        kind: 'failed',
        failure: new Error(`the connection closed after ${transfer.offset} of ${download.size} bytes`),
      };
    return { kind: 'progressed' };
  } catch (error) {
    if (TraitlensError.isInstance(error)) throw error;
    transfer.signal?.throwIfAborted();
    return { kind: 'failed', failure: stall.signal.aborted ? stall.signal.reason : error };
  } finally {
    stall.dispose();
  }
}

/** A 416 on a resume restarts; a retryable status is a failure to retry; anything else is final. */
async function failedResponse(transfer: BlobTransfer, response: Response): Promise<AttemptOutcome> {
  const { settings, context } = transfer.options;
  if (response.status === 416 && transfer.offset > 0) {
    // The server says the range starts at or past the end: the partial file is not what the listing promised.
    await response.body?.cancel();
    await restartTransfer(transfer);
    return { kind: 'again' };
  }
  const body = await response.text().catch(() => '');
  if (!isRetryableStatus(response.status)) throw hubResponseError(settings, response, context, body);
  const failure = Object.assign(new Error(`HTTP ${response.status}`), {
    retryAfter: response.headers.get('retry-after'),
    status: response.status,
  });
  return { kind: 'failed', failure };
}

/**
 * Whether the response continues the partial file. A server that ignores the Range header sends the whole
 * file (the partial file restarts and the body is used); a 206 at another offset is discarded.
 */
async function acceptsResponseRange(transfer: BlobTransfer, response: Response): Promise<boolean> {
  if (response.status === 200 && transfer.offset > 0) {
    await restartTransfer(transfer);
    return true;
  }
  if (
    response.status === 206 &&
    !contentRangeStartsAt(response.headers.get('content-range'), transfer.offset)
  ) {
    await response.body?.cancel();
    await restartTransfer(transfer);
    return false;
  }
  return true;
}

/** Appends the body to the partial file, hashing as it goes; more bytes than listed delete it. */
async function writeResponseBody(
  transfer: BlobTransfer,
  response: Response,
  stall: ReturnType<typeof createStallController>,
): Promise<void> {
  const { download, context, progress } = transfer.options;
  const handle = await open(transfer.incomplete, transfer.offset === 0 ? 'w' : 'a');
  try {
    if (!response.body) throw new Error('the response has no body');
    for await (const chunk of response.body) {
      stall.touch();
      const bytes = chunk as Uint8Array;
      if (transfer.offset + bytes.byteLength > download.size) {
        await handle.close().catch(() => {});
        await restartTransfer(transfer);
        throw new TraitlensError(
          'HUB_ERROR',
          `The Hub sent more than the ${download.size} bytes listed for ${context.file ?? download.url}; the partial download was deleted. Retry; report the repo if it persists.`,
          {
            details: { ...context, expectedBytes: download.size },
          },
        );
      }
      await handle.write(bytes);
      transfer.digest.hash?.update(bytes);
      transfer.offset += bytes.byteLength;
      progress.onBytes(transfer.offset);
    }
    await handle.sync();
  } finally {
    await handle.close().catch(() => {});
  }
}

function retriesExhaustedError(transfer: BlobTransfer, failure: unknown): TraitlensError {
  const { settings, download, context } = transfer.options;
  const status = (failure as { status?: number }).status;
  if (status === undefined) return hubUnreachableError(settings, context, failure);
  return new TraitlensError(
    'HUB_ERROR',
    `Downloading ${context.file ?? download.url} from hf:${context.repo} kept failing with HTTP ${status} (${settings.retries} retries); ${transfer.offset} of ${download.size} bytes are kept and resume next time.`,
    {
      cause: failure,
      details: { ...context, status, bytes: transfer.offset, expectedBytes: download.size },
    },
  );
}

/**
 * Checks the hash the listing promised. A mismatch deletes the file; it is retried once (false) when part of
 * it came from an earlier run, and refused otherwise.
 */
async function verifyTransfer(transfer: BlobTransfer): Promise<boolean> {
  const { download, context } = transfer.options;
  const { digest } = transfer;
  const actual = digest.hash?.digest('hex');
  if (digest.expected === undefined || actual === digest.expected) return true;
  await rm(transfer.incomplete, { force: true });
  if (transfer.resumedFromPreviousRun) return false;
  throw new TraitlensError(
    'HUB_ERROR',
    `${context.file ?? download.url} from hf:${context.repo} failed its integrity check (${digest.kind} ${actual} instead of ${digest.expected}); the download was deleted. Retry; if it persists, a proxy may be altering downloads.`,
    { details: { ...context, expected: digest.expected, actual } },
  );
}

function contentRangeStartsAt(header: string | null, offset: number): boolean {
  const match = header ? /^bytes (\d+)-/.exec(header) : null;
  return match !== null && Number(match[1]) === offset;
}

async function ensureFile(path: string): Promise<void> {
  const handle = await open(path, 'a');
  await handle.close();
}
