import { type Judge, type JudgeRequest, TraitlensError } from '@traitlens/core';
import OpenAI from 'openai';
import pLimit, { type LimitFunction } from 'p-limit';
import { JudgeCache } from './judge-cache';
import {
  defaultJudgePromptTemplates,
  defaultResponseCharacterLimit,
  type JudgePromptTemplates,
  renderJudgePrompt,
} from './judge-prompt-templates';
import {
  RetriesExhaustedError,
  type RetryDecision,
  type RetryPolicy,
  retryWithBackoff,
} from './retry-with-backoff';
import {
  numberProbabilitiesFromTopLogprobs,
  parseScoreFromText,
  scoreFromNumberProbabilities,
} from './score-from-number-probabilities';

export interface OpenAiJudgeOptions {
  /** The judge model name as the endpoint knows it, e.g. `gpt-4.1-mini`. */
  model: string;
  /** An OpenAI-compatible `/v1` base URL (vLLM, Ollama, llama.cpp server). Default: OPENAI_BASE_URL, then OpenAI. */
  baseUrl?: string;
  /**
   * Several endpoints serving the same judge model (e.g. one vLLM server per GPU): each request goes to
   * the one with the fewest requests in flight, and each retry picks again, so a failing or slow server
   * gets less work. Replaces `baseUrl` when given.
   */
  baseUrls?: readonly string[];
  /** Default: OPENAI_API_KEY. Endpoints on a custom base URL may need none. */
  apiKey?: string;
  /** Requests in flight at once per endpoint (default 8). */
  concurrency?: number;
  retry?: RetryPolicy;
  /** Per-request timeout (default 60 s). */
  timeoutMs?: number;
  /** Directory of the on-disk judgement cache; without it every judgement is a request. */
  cacheDirectory?: string | undefined;
  /** Replaces the default prompt of any kind. */
  prompts?: Partial<JudgePromptTemplates>;
  /** Minimum probability mass on integers for a score (default 0.25). */
  massFloor?: number;
  /** Top logprobs requested for the answer token (default 20, the API's maximum). */
  topLogprobs?: number;
  responseCharacterLimit?: number;
  /**
   * `logprobs`: weighted score from the first token's top logprobs. `text`: parse the answer text.
   * `auto` (default): logprobs, switching to text for good once the endpoint returns none.
   */
  scoring?: 'auto' | 'logprobs' | 'text';
}

/** What the cache stores: the endpoint's raw answer, so the score can be recomputed with another floor. */
type CachedJudgement =
  | { scoring: 'logprobs'; numbers: [number, number][] }
  | { scoring: 'text'; text: string };

export interface OpenAiJudgeStatistics {
  /** HTTP requests sent, retries included. */
  requests: number;
  retries: number;
  cacheHits: number;
  /** HTTP requests per endpoint (base URL), retries included. */
  requestsByEndpoint: Record<string, number>;
}

interface JudgeEndpoint {
  baseUrl: string;
  client: OpenAI;
  inFlight: number;
  /** Retryable failures in a row (reset by a success); the endpoint rests while they last. */
  failures: number;
  /** Until when (Date.now() ms) the endpoint gets no new requests while others are healthy. */
  restingUntil: number;
}

/**
 * A judge on any OpenAI-compatible chat-completions endpoint. It asks for a one-token answer at
 * temperature 0 and scores from the top-20 logprobs of that token (see `scoreFromNumberProbabilities`);
 * transient failures (429, 5xx, timeouts, connection errors) are retried with backoff.
 */
export class OpenAiJudge implements Judge {
  readonly id: string;
  readonly statistics: OpenAiJudgeStatistics = {
    requests: 0,
    retries: 0,
    cacheHits: 0,
    requestsByEndpoint: {},
  };
  /** The endpoints, comma-separated when there are several (for messages). */
  readonly baseUrl: string;
  private readonly endpoints: JudgeEndpoint[];
  private nextEndpoint = 0;
  private readonly model: string;
  private readonly limit: LimitFunction;
  private readonly cache: JudgeCache<CachedJudgement> | undefined;
  private readonly templates: JudgePromptTemplates;
  private readonly massFloor: number;
  private readonly topLogprobs: number;
  private readonly responseCharacterLimit: number;
  private readonly retry: RetryPolicy;
  private scoring: 'auto' | 'logprobs' | 'text';
  private readonly inFlight = new Map<string, Promise<CachedJudgement>>();

  constructor(options: OpenAiJudgeOptions) {
    if (!options.model)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        'The OpenAI judge needs a model name, e.g. --judge openai:gpt-4.1-mini.',
      );
    const baseUrls = options.baseUrls?.length
      ? [...new Set(options.baseUrls)]
      : [options.baseUrl ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'];
    const baseUrl = baseUrls.join(', ');
    let apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
    if (!apiKey) {
      if (baseUrls.some((url) => /^https:\/\/api\.openai\.com\b/.test(url))) {
        throw new TraitlensError(
          'JUDGE_AUTH_FAILED',
          `The judge endpoint ${baseUrl} needs an API key: set OPENAI_API_KEY, or point OPENAI_BASE_URL at a local OpenAI-compatible server (vLLM, Ollama, llama.cpp).`,
          { details: { baseUrl } },
        );
      }
      // Local servers usually ignore the key, but the client refuses to send a request without one.
      apiKey = 'no-key';
    }
    this.model = options.model;
    this.baseUrl = baseUrl;
    this.id = `openai:${options.model}`;
    this.endpoints = baseUrls.map((url) => ({
      baseUrl: url,
      client: new OpenAI({ apiKey, baseURL: url, maxRetries: 0, timeout: options.timeoutMs ?? 60_000 }),
      inFlight: 0,
      failures: 0,
      restingUntil: 0,
    }));
    this.limit = pLimit((options.concurrency ?? 8) * this.endpoints.length);
    this.cache =
      options.cacheDirectory === undefined
        ? undefined
        : new JudgeCache<CachedJudgement>(options.cacheDirectory);
    this.templates = { ...defaultJudgePromptTemplates, ...options.prompts };
    this.massFloor = options.massFloor ?? 0.25;
    this.topLogprobs = options.topLogprobs ?? 20;
    this.responseCharacterLimit = options.responseCharacterLimit ?? defaultResponseCharacterLimit;
    this.retry = options.retry ?? {};
    this.scoring = options.scoring ?? 'auto';
  }

  async score(request: JudgeRequest): Promise<number | null> {
    const prompt = renderJudgePrompt(request, this.templates, this.responseCharacterLimit);
    const key = JudgeCache.key({ model: this.model, prompt });
    const judgement = await this.judgementFor(key, prompt);
    return judgement.scoring === 'logprobs'
      ? scoreFromNumberProbabilities(new Map(judgement.numbers), this.massFloor)
      : parseScoreFromText(judgement.text);
  }

  private judgementFor(key: string, prompt: string): Promise<CachedJudgement> {
    // Identical prompts asked at the same time (greedy decoding often repeats answers) share one request.
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const promise = (async () => {
      const cached = await this.cache?.get(key);
      if (cached) {
        this.statistics.cacheHits++;
        return cached;
      }
      const judgement = await this.limit(() => this.ask(prompt));
      await this.cache?.set(key, judgement);
      return judgement;
    })().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  private async ask(prompt: string): Promise<CachedJudgement> {
    if (this.scoring !== 'text') {
      let completion: unknown;
      try {
        completion = await this.request(prompt, 'logprobs');
      } catch (error) {
        // Some servers reject the logprobs parameters outright; in auto mode that means "use text".
        const cause = error instanceof RetriesExhaustedError ? error.cause : error;
        if (!(this.scoring === 'auto' && cause instanceof OpenAI.BadRequestError)) throw this.explain(error);
        this.scoring = 'text';
        return this.ask(prompt);
      }
      const top = topLogprobsOf(completion);
      if (top !== undefined)
        return { scoring: 'logprobs', numbers: [...numberProbabilitiesFromTopLogprobs(top)] };
      if (this.scoring === 'logprobs') {
        throw new TraitlensError(
          'JUDGE_ERROR',
          `The judge endpoint ${this.baseUrl} (model ${this.model}) returned no logprobs although they were requested. Use scoring "text" (or "auto") for endpoints without logprobs support.`,
          { details: { baseUrl: this.baseUrl, model: this.model } },
        );
      }
      this.scoring = 'text';
    }
    let completion: unknown;
    try {
      completion = await this.request(prompt, 'text');
    } catch (error) {
      throw this.explain(error);
    }
    return { scoring: 'text', text: messageTextOf(completion, this.baseUrl, this.model) };
  }

  /** One chat completion, retried; `logprobs` asks for the top log-probabilities of a one-token answer. */
  private async request(prompt: string, scoring: 'logprobs' | 'text'): Promise<unknown> {
    const withLogprobs = scoring === 'logprobs';
    const completion = await retryWithBackoff(
      async () => {
        const endpoint = this.pickEndpoint();
        this.statistics.requests++;
        this.statistics.requestsByEndpoint[endpoint.baseUrl] =
          (this.statistics.requestsByEndpoint[endpoint.baseUrl] ?? 0) + 1;
        endpoint.inFlight++;
        try {
          const completion = await endpoint.client.chat.completions.create({
            model: this.model,
            messages: [{ role: 'user', content: prompt }],
            temperature: 0,
            // One token holds the whole number on tokenizers with multi-digit tokens; text mode leaves room for digit-wise ones.
            max_tokens: withLogprobs ? 1 : 4,
            ...(withLogprobs ? { logprobs: true, top_logprobs: this.topLogprobs } : {}),
          });
          endpoint.failures = 0;
          return completion;
        } catch (error) {
          if (decideRetry(error).retry) {
            // A server that fails (down, overloaded) rests 1, 2, 4 ... 30 s while the others take its share.
            endpoint.failures++;
            endpoint.restingUntil = Date.now() + Math.min(30_000, 1000 * 2 ** (endpoint.failures - 1));
          }
          throw error;
        } finally {
          endpoint.inFlight--;
        }
      },
      decideRetry,
      this.retry,
      () => {
        this.statistics.retries++;
      },
    );
    assertChatCompletion(completion, this.baseUrl, this.model);
    return completion;
  }

  /**
   * The endpoint with the fewest requests in flight; ties go round-robin, so equal servers get equal
   * shares and a slow one (its requests pile up) gets fewer new ones.
   */
  private pickEndpoint(): JudgeEndpoint {
    const count = this.endpoints.length;
    const now = Date.now();
    // Resting endpoints only when every endpoint rests (then the least loaded of all).
    const rests = (endpoint: JudgeEndpoint) => endpoint.restingUntil > now;
    const allRest = this.endpoints.every(rests);
    let best: JudgeEndpoint | undefined;
    for (let offset = 0; offset < count; offset++) {
      const candidate = this.endpoints[(this.nextEndpoint + offset) % count]!;
      if (!allRest && rests(candidate)) continue;
      if (!best || candidate.inFlight < best.inFlight) best = candidate;
    }
    best ??= this.endpoints[0]!;
    this.nextEndpoint = (this.endpoints.indexOf(best) + 1) % count;
    return best;
  }

  private explain(error: unknown): Error {
    if (TraitlensError.isInstance(error)) return error;
    const attempts = error instanceof RetriesExhaustedError ? error.attempts : 1;
    const cause = error instanceof RetriesExhaustedError ? error.cause : error;
    const where = `the judge endpoint ${this.baseUrl} (model ${this.model})`;
    const details = { baseUrl: this.baseUrl, model: this.model, attempts };
    if (cause instanceof OpenAI.AuthenticationError || cause instanceof OpenAI.PermissionDeniedError) {
      return new TraitlensError(
        'JUDGE_AUTH_FAILED',
        `${where} refused the API key (HTTP ${cause.status}). Set OPENAI_API_KEY (or the judge's apiKey) to a key that this endpoint accepts.`,
        { cause, details: { ...details, status: cause.status } },
      );
    }
    if (cause instanceof OpenAI.NotFoundError) {
      return new TraitlensError(
        'JUDGE_ERROR',
        `${where} answered 404 Not Found: check the model name and that the base URL ends in /v1 (OPENAI_BASE_URL).`,
        { cause, details: { ...details, status: 404 } },
      );
    }
    if (cause instanceof OpenAI.APIConnectionError) {
      return new TraitlensError(
        'JUDGE_ERROR',
        `Could not reach ${where} after ${attempts} attempts (${cause.message}). Is the server running and is OPENAI_BASE_URL right?`,
        { cause, details },
      );
    }
    if (cause instanceof OpenAI.APIError) {
      return new TraitlensError(
        'JUDGE_ERROR',
        `${where} failed with HTTP ${cause.status} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause.message}`,
        { cause, details: { ...details, status: cause.status } },
      );
    }
    if (cause instanceof SyntaxError) {
      return new TraitlensError(
        'JUDGE_ERROR',
        `${where} returned a body that is not valid JSON (${cause.message}). Check that the base URL points at an OpenAI-compatible /v1 endpoint.`,
        { cause, details },
      );
    }
    return new TraitlensError(
      'JUDGE_ERROR',
      `${where} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, details },
    );
  }
}

/** Retry rate limits, server errors, timeouts and dropped connections; nothing else will fix itself. */
function decideRetry(error: unknown): RetryDecision {
  if (error instanceof OpenAI.APIConnectionError) return { retry: true };
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    const status = error.status;
    if (status === 408 || status === 409 || status === 429 || status >= 500) {
      const retryAfter = Number(error.headers?.get('retry-after'));
      return Number.isFinite(retryAfter) && retryAfter > 0
        ? { retry: true, delayMs: retryAfter * 1000 }
        : { retry: true };
    }
  }
  return { retry: false };
}

function assertChatCompletion(completion: unknown, baseUrl: string, model: string): void {
  const choices = (completion as { choices?: unknown } | null)?.choices;
  if (
    typeof completion !== 'object' ||
    completion === null ||
    !Array.isArray(choices) ||
    choices.length === 0 ||
    typeof choices[0] !== 'object' ||
    choices[0] === null
  ) {
    const shown = typeof completion === 'string' ? completion : JSON.stringify(completion);
    throw new TraitlensError(
      'JUDGE_ERROR',
      `The judge endpoint ${baseUrl} (model ${model}) did not return a chat completion (no choices[0]); it sent: ${String(shown).slice(0, 200)}. Check that the base URL points at an OpenAI-compatible /v1 endpoint.`,
      { details: { baseUrl, model } },
    );
  }
}

function topLogprobsOf(completion: unknown): { token: string; logprob: number }[] | undefined {
  const choice = (
    completion as { choices: { logprobs?: { content?: { top_logprobs?: unknown }[] | null } | null }[] }
  ).choices[0];
  const top = choice?.logprobs?.content?.[0]?.top_logprobs;
  if (!Array.isArray(top) || top.length === 0) return undefined;
  return top.filter(
    (entry): entry is { token: string; logprob: number } =>
      typeof entry?.token === 'string' && typeof entry?.logprob === 'number',
  );
}

function messageTextOf(completion: unknown, baseUrl: string, model: string): string {
  const content = (completion as { choices: { message?: { content?: unknown } }[] }).choices[0]?.message
    ?.content;
  if (typeof content !== 'string') {
    throw new TraitlensError(
      'JUDGE_ERROR',
      `The judge endpoint ${baseUrl} (model ${model}) returned a choice without message text.`,
      { details: { baseUrl, model } },
    );
  }
  return content;
}
