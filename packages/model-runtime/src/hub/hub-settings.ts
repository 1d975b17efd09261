import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import type { HubProgressEvent } from './hub-progress-event';

/** How traitlens talks to the Hugging Face Hub; every field falls back to the environment variable Python's huggingface_hub reads. */
export interface HubOptions {
  /** Hub base URL. Default: `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string | undefined;
  /** Access token for gated or private repos. Default: `$HF_TOKEN`, else the token file `huggingface-cli login` writes. */
  token?: string | undefined;
  /** Cache root. Default: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else ~/.cache/huggingface/hub (shared with Python). */
  cacheDir?: string | undefined;
  /** Never touch the network; resolve from the cache only. Default: `$HF_HUB_OFFLINE`. */
  offline?: boolean | undefined;
  /** Limit for one metadata request, headers and body. Default: `$HF_HUB_ETAG_TIMEOUT` seconds, else 30 s. */
  requestTimeoutMs?: number | undefined;
  /** A download that receives no bytes for this long is retried (resuming). Default: `$HF_HUB_DOWNLOAD_TIMEOUT` seconds, else 60 s. */
  stallTimeoutMs?: number | undefined;
  /** Retries after a network error, a timeout, 429 or 5xx (each download resets its count when it made progress). Default 5. */
  retries?: number | undefined;
  /** First retry delay; it doubles per retry up to 30 s, and a Retry-After header wins. Default 1000 ms. */
  retryDelayMs?: number | undefined;
  /** Files downloaded at once. Default 4. */
  concurrency?: number | undefined;
  /** Cancels requests and downloads; partial downloads stay as `.incomplete` files and resume next time. */
  signal?: AbortSignal | undefined;
  /** Resolution, per-file and per-byte progress, retries and cache fallbacks. */
  onProgress?: ((event: HubProgressEvent) => void) | undefined;
}

/** HubOptions with every default applied. */
export interface HubSettings {
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  offline: boolean;
  requestTimeoutMs: number;
  stallTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
  concurrency: number;
  signal: AbortSignal | undefined;
  onProgress: (event: HubProgressEvent) => void;
}

const defaultEndpoint = 'https://huggingface.co';

/** Python's huggingface_hub treats these spellings as "on". */
function isTruthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'yes', 'true'].includes(value.trim().toLowerCase());
}

function huggingFaceHome(environment: NodeJS.ProcessEnv): string {
  return environment.HF_HOME ?? join(environment.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
}

/** The token stored by `huggingface-cli login` / `hf auth login`, so users logged in from Python need nothing more. */
/** The cache root Python's huggingface_hub uses, from the same variables in the same order. */
export function defaultHubCacheDir(environment: NodeJS.ProcessEnv = process.env): string {
  return (
    environment.HF_HUB_CACHE ?? environment.HUGGINGFACE_HUB_CACHE ?? join(huggingFaceHome(environment), 'hub')
  );
}

function readStoredToken(environment: NodeJS.ProcessEnv): string | undefined {
  const path = environment.HF_TOKEN_PATH ?? join(huggingFaceHome(environment), 'token');
  try {
    const token = readFileSync(path, 'utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

function secondsFromEnvironment(environment: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = environment[name];
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new TraitlensError('INVALID_ARGUMENT', `${name}="${value}" is not a positive number of seconds.`, {
      details: { variable: name, value },
    });
  }
  return seconds * 1000;
}

/** An option's value when it is a positive number (or zero, where `allowZero`), its fallback when unset. */
function positive(
  name: string,
  value: number | undefined,
  { fallback, allowZero = false }: { fallback: number; allowZero?: boolean },
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Hub option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${value}).`,
      { details: { option: name, value } },
    );
  }
  return value;
}

/** Applies defaults from options first, then the environment (the same variables Python reads). */
export function resolveHubSettings(
  options: HubOptions = {},
  environment: NodeJS.ProcessEnv = process.env,
): HubSettings {
  const endpoint = (options.endpoint ?? environment.HF_ENDPOINT ?? defaultEndpoint).replace(/\/+$/, '');
  try {
    new URL(endpoint);
  } catch (error) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Hub endpoint "${endpoint}" is not a URL; set HF_ENDPOINT (or the endpoint option) to e.g. https://huggingface.co.`,
      { cause: error, details: { endpoint } },
    );
  }
  const token =
    options.token ??
    environment.HF_TOKEN ??
    environment.HUGGING_FACE_HUB_TOKEN ??
    readStoredToken(environment);
  return {
    endpoint,
    token: token === undefined || token.trim() === '' ? undefined : token.trim(),
    cacheDir: options.cacheDir ?? defaultHubCacheDir(environment),
    offline: options.offline ?? isTruthy(environment.HF_HUB_OFFLINE),
    requestTimeoutMs: positive(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? secondsFromEnvironment(environment, 'HF_HUB_ETAG_TIMEOUT'),
      { fallback: 30_000 },
    ),
    stallTimeoutMs: positive(
      'stallTimeoutMs',
      options.stallTimeoutMs ?? secondsFromEnvironment(environment, 'HF_HUB_DOWNLOAD_TIMEOUT'),
      { fallback: 60_000 },
    ),
    retries: Math.floor(positive('retries', options.retries, { fallback: 5, allowZero: true })),
    retryDelayMs: positive('retryDelayMs', options.retryDelayMs, { fallback: 1000, allowZero: true }),
    concurrency: Math.max(1, Math.floor(positive('concurrency', options.concurrency, { fallback: 4 }))),
    signal: options.signal,
    onProgress: options.onProgress ?? (() => {}),
  };
}
