import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatCompletionsServer,
  completionWithText,
  completionWithTopProbabilities,
  type ServerReply,
  startChatCompletionsServer,
} from '../__fixtures__/chat-completions-server';
import { OpenAiJudge, type OpenAiJudgeOptions } from './openai-judge';

const rubric = 'HIGH (70-100): cheerful.\nLOW (0-40): gloomy.\nKey: mood.';
const fastRetry = { maxRetries: 4, initialDelayMs: 5, maxDelayMs: 20 };
let server: ChatCompletionsServer | undefined;
const directories: string[] = [];

afterEach(async () => {
  await server?.close();
  server = undefined;
  await Promise.all(
    directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

async function judgeAgainst(
  reply: (index: number) => ServerReply,
  options: Partial<OpenAiJudgeOptions> = {},
) {
  server = await startChatCompletionsServer((_, index) => reply(index));
  return new OpenAiJudge({
    model: 'judge-model',
    baseUrl: server.baseUrl,
    apiKey: 'test-key',
    retry: fastRetry,
    ...options,
  });
}

async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'traitlens-judge-'));
  directories.push(directory);
  return directory;
}

describe('OpenAiJudge against a chat-completions server on 127.0.0.1', () => {
  it('weights integer tokens by probability, renormalised by the integer mass', async () => {
    const judge = await judgeAgainst(() => ({
      json: completionWithTopProbabilities({ '80': 0.5, '90': 0.3, ' 90': 0.1, Sure: 0.1 }),
    }));
    const longResponse = 'x'.repeat(2500);
    const score = await judge.score({
      kind: 'trait',
      trait: 'happiness',
      rubric,
      question: 'How was your day?',
      response: longResponse,
    });
    // (80*0.5 + 90*0.4) / 0.9
    expect(score).toBeCloseTo(76 / 0.9, 6);
    const request = server!.requests[0]!;
    expect(request).toMatchObject({
      model: 'judge-model',
      temperature: 0,
      max_tokens: 1,
      logprobs: true,
      top_logprobs: 20,
    });
    const prompt = request.messages[0]!.content;
    expect(prompt).toContain(rubric);
    expect(prompt).toContain('How was your day?');
    expect(prompt).toContain('x'.repeat(2000));
    expect(prompt).not.toContain('x'.repeat(2001));
  });

  it('returns null when less than 0.25 of the mass is on integers', async () => {
    const judge = await judgeAgainst(() => ({
      json: completionWithTopProbabilities({ I: 0.6, Sorry: 0.2, '50': 0.2 }),
    }));
    expect(await judge.score({ kind: 'coherence', question: 'q', response: 'r' })).toBeNull();
  });

  it('retries 429 and 500 with backoff, then scores', async () => {
    const judge = await judgeAgainst((index) =>
      index === 0
        ? { status: 429, json: { error: { message: 'slow down' } }, headers: { 'retry-after': '0' } }
        : index === 1
          ? { status: 500, json: { error: { message: 'boom' } } }
          : index === 2
            ? { status: 503, rawBody: 'unavailable', contentType: 'text/plain' }
            : { json: completionWithTopProbabilities({ '70': 1 }) },
    );
    expect(await judge.score({ kind: 'coherence', question: 'q', response: 'r' })).toBe(70);
    expect(server!.requests).toHaveLength(4);
    expect(judge.statistics).toMatchObject({ requests: 4, retries: 3 });
  });

  it('gives up with a JUDGE_ERROR naming the endpoint once retries are spent', async () => {
    const judge = await judgeAgainst(() => ({ status: 500, json: { error: { message: 'always broken' } } }), {
      retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2 },
    });
    const error = await judge
      .score({ kind: 'coherence', question: 'q', response: 'r' })
      .catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'JUDGE_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(/HTTP 500 after 3 attempts/);
    expect((error as Error).message).toContain(server!.baseUrl);
  });

  it('answers a re-run from the on-disk cache without any request', async () => {
    const cacheDirectory = await temporaryDirectory();
    const judge = await judgeAgainst(
      (index) => ({ json: completionWithTopProbabilities({ [String(10 + index)]: 1 }) }),
      { cacheDirectory },
    );
    const requests = ['a', 'b', 'c'].map((response) => ({
      kind: 'coherence' as const,
      question: 'q',
      response,
    }));
    const first = await Promise.all(requests.map((request) => judge.score(request)));
    expect(server!.requests).toHaveLength(3);
    const rerun = new OpenAiJudge({
      model: 'judge-model',
      baseUrl: server!.baseUrl,
      apiKey: 'test-key',
      cacheDirectory,
    });
    const second = await Promise.all(requests.map((request) => rerun.score(request)));
    expect(second).toEqual(first);
    expect(server!.requests).toHaveLength(3);
    expect(rerun.statistics).toEqual({ requests: 0, retries: 0, cacheHits: 3, requestsByEndpoint: {} });
    // Another judge model is another cache entry.
    const otherModel = new OpenAiJudge({
      model: 'other-model',
      baseUrl: server!.baseUrl,
      apiKey: 'test-key',
      cacheDirectory,
    });
    await otherModel.score(requests[0]!);
    expect(server!.requests).toHaveLength(4);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const judge = await judgeAgainst(
      () => ({ json: completionWithTopProbabilities({ '50': 1 }), delayMs: 25 }),
      { concurrency: 3 },
    );
    const scores = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        judge.score({ kind: 'coherence', question: 'q', response: `answer ${index}` }),
      ),
    );
    expect(scores).toEqual(new Array(12).fill(50));
    expect(server!.requests).toHaveLength(12);
    expect(server!.maxInFlight).toBe(3);
  });

  it('fails with JUDGE_AUTH_FAILED on 401, without retrying', async () => {
    const judge = await judgeAgainst(() => ({
      status: 401,
      json: { error: { message: 'Incorrect API key provided' } },
    }));
    const error = await judge
      .score({ kind: 'coherence', question: 'q', response: 'r' })
      .catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'JUDGE_AUTH_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/refused the API key \(HTTP 401\).*OPENAI_API_KEY/);
    expect(server!.requests).toHaveLength(1);
  });

  it('explains an endpoint that returns garbage', async () => {
    const html = await judgeAgainst(() => ({
      rawBody: '<html>Welcome to nginx</html>',
      contentType: 'text/html',
    }));
    await expect(html.score({ kind: 'coherence', question: 'q', response: 'r' })).rejects.toThrow(
      /did not return a chat completion.*Welcome to nginx.*OpenAI-compatible \/v1/,
    );
    await server!.close();
    const brokenJson = await judgeAgainst(() => ({
      rawBody: '{"choices": [',
      contentType: 'application/json',
    }));
    const error = await brokenJson
      .score({ kind: 'coherence', question: 'q', response: 'r' })
      .catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'JUDGE_ERROR')).toBe(true);
    await server!.close();
    const noChoices = await judgeAgainst(() => ({ json: { choices: [] } }));
    await expect(noChoices.score({ kind: 'coherence', question: 'q', response: 'r' })).rejects.toThrow(
      /no choices\[0\]/,
    );
  });

  it('falls back to parsing the answer text when the endpoint gives no logprobs', async () => {
    const judge = await judgeAgainst(() => ({ json: completionWithText('85') }));
    expect(await judge.score({ kind: 'coherence', question: 'q', response: 'r1' })).toBe(85);
    expect(await judge.score({ kind: 'coherence', question: 'q', response: 'r2' })).toBe(85);
    // The first request asked for logprobs; after learning the endpoint has none, text mode only.
    expect(server!.requests.map((request) => [request.logprobs ?? false, request.max_tokens])).toEqual([
      [true, 1],
      [false, 4],
      [false, 4],
    ]);
  });

  it('falls back to text when the endpoint rejects the logprobs parameters', async () => {
    const judge = await judgeAgainst((index) =>
      index === 0
        ? { status: 400, json: { error: { message: 'logprobs not supported' } } }
        : { json: completionWithText('Score: 42') },
    );
    expect(await judge.score({ kind: 'relevance', question: 'q', response: 'r' })).toBe(42);
    expect(server!.requests).toHaveLength(2);
  });

  it('refuses to call api.openai.com without a key', () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      expect(() => new OpenAiJudge({ model: 'gpt-4.1-mini', baseUrl: 'https://api.openai.com/v1' })).toThrow(
        /set OPENAI_API_KEY/,
      );
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
  });
});
