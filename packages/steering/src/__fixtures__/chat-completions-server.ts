/**
 * TEST-ONLY: a real HTTP server on 127.0.0.1 that speaks POST /v1/chat/completions, for testing the
 * OpenAI judge end to end through the `openai` client. Each test decides the replies; the server records
 * every request body and the highest number of requests it held at once.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatCompletionsRequest {
  model: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  max_tokens?: number;
  logprobs?: boolean;
  top_logprobs?: number;
}

export interface ServerReply {
  status?: number;
  /** Serialised as JSON unless `rawBody` is given. */
  json?: unknown;
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Hold the reply this long, so concurrent requests overlap. */
  delayMs?: number;
}

export interface ChatCompletionsServer {
  baseUrl: string;
  requests: ChatCompletionsRequest[];
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startChatCompletionsServer(
  reply: (request: ChatCompletionsRequest, index: number) => ServerReply,
): Promise<ChatCompletionsServer> {
  const state = { requests: [] as ChatCompletionsRequest[], inFlight: 0, maxInFlight: 0 };
  const server: Server = createServer(async (incoming, outgoing) => {
    if (incoming.method !== 'POST' || incoming.url !== '/v1/chat/completions') {
      outgoing
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    try {
      const body = JSON.parse(await readBody(incoming)) as ChatCompletionsRequest;
      const index = state.requests.push(body) - 1;
      const answer = reply(body, index);
      if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      const text = answer.rawBody ?? JSON.stringify(answer.json ?? {});
      outgoing
        .writeHead(answer.status ?? 200, {
          'content-type': answer.contentType ?? 'application/json',
          ...answer.headers,
        })
        .end(text);
    } finally {
      state.inFlight--;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests: state.requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A chat completion whose first token has the given top logprobs (probabilities, converted to logs). */
export function completionWithTopProbabilities(top: Record<string, number>, model = 'judge-model'): unknown {
  const entries = Object.entries(top).map(([token, probability]) => ({
    token,
    logprob: Math.log(probability),
    bytes: null,
  }));
  const first = entries[0] ?? { token: '', logprob: 0, bytes: null };
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 0,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: first.token },
        finish_reason: 'length',
        logprobs: { content: [{ ...first, top_logprobs: entries }] },
      },
    ],
  };
}

/** A chat completion with answer text and no logprobs. */
export function completionWithText(text: string, model = 'judge-model'): unknown {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 0,
    model,
    choices: [
      { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null },
    ],
  };
}

async function readBody(incoming: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
