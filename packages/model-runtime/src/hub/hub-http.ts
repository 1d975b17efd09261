import { setTimeout as sleep } from 'node:timers/promises';
import { TraitlensError } from '@traitlens/core';
import type { HubSettings } from './hub-settings';

/** What a request is for, so an HTTP failure can be explained in terms of the user's model. */
export interface HubRequestContext {
  repo: string;
  revision: string;
  file?: string;
}

/** Statuses worth retrying: rate limits and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Exponential backoff from settings.retryDelayMs, capped at 30 s; the server's Retry-After wins (capped at 60 s). */
export function retryDelay(settings: HubSettings, attempt: number, retryAfter?: string | null): number {
  const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 60_000);
  return Math.min(settings.retryDelayMs * 2 ** (attempt - 1), 30_000);
}

export async function waitBeforeRetry(delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  if (delayMs > 0) await sleep(delayMs, undefined, signal ? { signal } : {});
}

/** Only the Hub's own origin gets the token; redirect targets (the CDN) are signed URLs and must not see it. */
export function isHubOrigin(settings: HubSettings, url: string | URL): boolean {
  return new URL(url).origin === new URL(settings.endpoint).origin;
}

export function requestHeaders(
  settings: HubSettings,
  url: string | URL,
  base?: ConstructorParameters<typeof Headers>[0],
): Headers {
  const headers = new Headers(base);
  if (settings.token && isHubOrigin(settings, url) && !headers.has('authorization'))
    headers.set('authorization', `Bearer ${settings.token}`);
  // Byte offsets for Range requests and size checks must refer to the stored bytes, not a gzip stream.
  headers.set('accept-encoding', 'identity');
  headers.set('user-agent', 'traitlens (@huggingface/hub)');
  return headers;
}

function repoUrl(settings: HubSettings, repo: string): string {
  return `${settings.endpoint}/${repo}`;
}

/**
 * Turns a failed Hub response into a TraitlensError that says what to do. The Hub names the failure in the
 * X-Error-Code header (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound); without a token it
 * answers 401 for private and missing repos alike, so that case names both.
 */
export function hubResponseError(
  settings: HubSettings,
  response: Response,
  context: HubRequestContext,
  bodyText = '',
): TraitlensError {
  const status = response.status;
  const errorCode = response.headers.get('x-error-code') ?? undefined;
  const serverMessage = response.headers.get('x-error-message') ?? extractMessage(bodyText);
  const tokenSent = settings.token !== undefined;
  const details = {
    status,
    repo: context.repo,
    revision: context.revision,
    file: context.file,
    url: response.url || undefined,
    errorCode,
    serverMessage,
  };
  const id = `hf:${context.repo}`;
  const page = repoUrl(settings, context.repo);
  const tokensPage = `${settings.endpoint}/settings/tokens`;
  const server = serverMessage ? ` The Hub said: "${serverMessage}".` : '';

  if (
    errorCode === 'GatedRepo' ||
    ((status === 401 || status === 403) && errorCode === undefined && context.file !== undefined)
  ) {
    const message = tokenSent
      ? `${id} is gated and your token has no access to it (HTTP ${status}). Open ${page}, accept its conditions with the account the token belongs to (approval can take a while), and check the token has "read" access.${server}`
      : `${id} is gated: downloading it needs a Hugging Face token. Accept the conditions at ${page}, create a read token at ${tokensPage}, then set HF_TOKEN=hf_... (or run \`hf auth login\`, or pass the token option).${server}`;
    return new TraitlensError('HUB_AUTH_REQUIRED', message, { details });
  }
  if (status === 401 || status === 403) {
    const message = tokenSent
      ? `${id} was refused with your token (HTTP ${status}): the repo does not exist, is private to someone else, or the token is invalid or expired. Check the name at ${page} and the token at ${tokensPage}.${server}`
      : `${id} was not found or needs a login (HTTP ${status}): check the spelling; if the repo is private or gated, create a read token at ${tokensPage} and set HF_TOKEN.${server}`;
    return new TraitlensError('HUB_AUTH_REQUIRED', message, { details });
  }
  if (status === 404 && errorCode === 'RevisionNotFound') {
    return new TraitlensError(
      'REVISION_NOT_FOUND',
      `${id} has no revision "${context.revision}". Use an existing branch, tag or full 40-character commit sha (branches and tags: ${page}/tree/main); leave "@..." out for main.${server}`,
      { details },
    );
  }
  if (status === 404 && errorCode === 'EntryNotFound') {
    return new TraitlensError(
      'HUB_ERROR',
      `${id}@${context.revision} has no file "${context.file ?? '?'}" although the file listing named it; retry, and report the repo if it persists.${server}`,
      { details },
    );
  }
  if (status === 404) {
    return new TraitlensError(
      'HUB_ERROR',
      `${id} was not found on ${settings.endpoint} (HTTP 404). Check the name${tokenSent ? '' : '; a private repo needs HF_TOKEN'}.${server}`,
      { details },
    );
  }
  return new TraitlensError(
    'HUB_ERROR',
    `The Hub answered HTTP ${status} for ${id}${context.file ? ` file ${context.file}` : ''} at ${context.revision}${isRetryableStatus(status) ? ` after ${settings.retries} retries; try again later or raise the retries option` : ''}.${server}`,
    { details },
  );
}

function extractMessage(bodyText: string): string | undefined {
  const text = bodyText.trim();
  if (text === '') return undefined;
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown };
    const message = json.error ?? json.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return text.length > 200 ? `${text.slice(0, 200)}...` : text;
  }
}

/** No response at all (refused, reset, DNS, timeout) after every retry: the network is the problem. */
export function hubUnreachableError(
  settings: HubSettings,
  context: HubRequestContext,
  cause: unknown,
): TraitlensError {
  const reason = describeNetworkError(cause);
  return new TraitlensError(
    'HUB_OFFLINE',
    `Cannot reach the Hub at ${settings.endpoint} for hf:${context.repo}${context.file ? ` (${context.file})` : ''}: ${reason}. Check the network, a proxy, or HF_ENDPOINT; to work from the cache only, set HF_HUB_OFFLINE=1.`,
    {
      cause,
      details: {
        repo: context.repo,
        revision: context.revision,
        file: context.file,
        endpoint: settings.endpoint,
        reason,
      },
    },
  );
}

export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return error.message;
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as NodeJS.ErrnoException).code;
      return code ? `${code} (${cause.message})` : cause.message;
    }
    return error.message;
  }
  return String(error);
}

export class StallTimeoutError extends Error {
  constructor(milliseconds: number) {
    super(`no data for ${Math.round(milliseconds / 100) / 10} s`);
    this.name = 'TimeoutError';
  }
}

/** A signal that fires on a stall or an outer abort; `touch` restarts the stall timer, `dispose` stops it. */
export interface StallController {
  signal: AbortSignal;
  touch(): void;
  dispose(): void;
}

/** A controller that aborts after `milliseconds` without a `touch()`, and when the caller's signal aborts. */
export function createStallController(milliseconds: number, outer: AbortSignal | undefined): StallController {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onOuterAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const touch = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new StallTimeoutError(milliseconds)), milliseconds);
  };
  const dispose = () => {
    if (timer) clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  };
  touch();
  return { signal: controller.signal, touch, dispose };
}

/**
 * A `fetch` for @huggingface/hub's metadata calls (modelInfo, listFiles) that adds what the library lacks:
 * the token header on Hub URLs only, a timeout per attempt covering headers and body (the body is read
 * here, so a stalled body is retried too), retries with backoff on network errors, 408/429/5xx, and
 * TraitlensErrors instead of the library's generic ones.
 */
export function createHubFetch(settings: HubSettings, context: HubRequestContext): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    for (let attempt = 1; ; attempt++) {
      settings.signal?.throwIfAborted();
      const stall = createStallController(settings.requestTimeoutMs, settings.signal);
      let response: Response;
      let body: ArrayBuffer;
      try {
        response = await fetch(url, {
          ...init,
          headers: requestHeaders(settings, url, init?.headers),
          signal: stall.signal,
        });
        body = await response.arrayBuffer();
      } catch (error) {
        settings.signal?.throwIfAborted();
        const reason = stall.signal.aborted ? stall.signal.reason : error;
        if (attempt > settings.retries) throw hubUnreachableError(settings, context, reason);
        const delayMs = retryDelay(settings, attempt);
        settings.onProgress({
          type: 'retry',
          repo: context.repo,
          file: context.file,
          attempt,
          delayMs,
          reason: describeNetworkError(reason),
        });
        await waitBeforeRetry(delayMs, settings.signal);
        continue;
      } finally {
        stall.dispose();
      }
      if (response.ok)
        return new Response(body, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      if (isRetryableStatus(response.status) && attempt <= settings.retries) {
        const delayMs = retryDelay(settings, attempt, response.headers.get('retry-after'));
        settings.onProgress({
          type: 'retry',
          repo: context.repo,
          file: context.file,
          attempt,
          delayMs,
          reason: `HTTP ${response.status}`,
        });
        await waitBeforeRetry(delayMs, settings.signal);
        continue;
      }
      throw hubResponseError(settings, response, context, new TextDecoder().decode(body));
    }
  };
}
