import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatCompletionsServer,
  completionWithTopProbabilities,
  startChatCompletionsServer,
} from '../__fixtures__/chat-completions-server';
import { OpenAiJudge } from './openai-judge';

const servers: ChatCompletionsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(reply: Parameters<typeof startChatCompletionsServer>[0]) {
  const started = await startChatCompletionsServer(reply);
  servers.push(started);
  return started;
}

const requests = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    kind: 'coherence' as const,
    question: `question ${index}`,
    response: `response ${index}`,
  }));

describe('OpenAiJudge with several base URLs', () => {
  it('spreads requests over equal servers and scores every one', async () => {
    const reply = () => ({ json: completionWithTopProbabilities({ '80': 1 }), delayMs: 5 });
    const [a, b, c] = await Promise.all([server(reply), server(reply), server(reply)]);
    const judge = new OpenAiJudge({
      model: 'judge-model',
      baseUrls: [a!.baseUrl, b!.baseUrl, c!.baseUrl],
      apiKey: 'test-key',
      concurrency: 4,
    });
    const scores = await Promise.all(requests(60).map((request) => judge.score(request)));
    expect(scores.every((score) => score === 80)).toBe(true);
    const counts = [a!, b!, c!].map((entry) => entry.requests.length);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(60);
    // Least-in-flight with round-robin ties: 20 each, give or take the requests still in flight.
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(15);
    // concurrency is per endpoint.
    for (const entry of [a!, b!, c!]) expect(entry.maxInFlight).toBeLessThanOrEqual(4);
    expect(Object.values(judge.statistics.requestsByEndpoint).reduce((sum, count) => sum + count, 0)).toBe(
      60,
    );
  });

  it('routes retries away from a failing server, and the failing one rests', async () => {
    const healthy = await server(() => ({ json: completionWithTopProbabilities({ '30': 1 }) }));
    const failing = await server(() => ({ status: 503, json: { error: { message: 'overloaded' } } }));
    const judge = new OpenAiJudge({
      model: 'judge-model',
      baseUrls: [failing.baseUrl, healthy.baseUrl],
      apiKey: 'test-key',
      concurrency: 2,
      retry: { maxRetries: 4, initialDelayMs: 1, maxDelayMs: 2 },
    });
    const scores = await Promise.all(requests(40).map((request) => judge.score(request)));
    expect(scores.every((score) => score === 30)).toBe(true);
    expect(healthy.requests).toHaveLength(40);
    // Once it failed, the failing server rests for at least a second: it saw only the first requests.
    expect(failing.requests.length).toBeGreaterThan(0);
    expect(failing.requests.length).toBeLessThanOrEqual(2);
    expect(judge.statistics.retries).toBe(failing.requests.length);
  });
});
