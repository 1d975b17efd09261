import type { HookPoint } from '@traitlens/core';
import type {
  ChatMessage,
  ForwardOptions,
  ForwardRow,
  GenerateOptions,
  GenerationResult,
  LanguageModel,
  ModelConfig,
  PromptInput,
  TextTokenizer,
} from '@traitlens/model-runtime';
import {
  createFakeLanguageModel,
  type FakeLanguageModel as SharedFake,
} from '@traitlens/model-runtime/testing';
import { createSeededRandom } from '../numeric/seeded-random';

/**
 * model-runtime's test fake (`@traitlens/model-runtime/testing`) with a planted trait: generation echoes
 * a fixed continuation, and forward returns synthetic residual streams: a running mean of random token
 * embeddings plus `traitScore(text so far)` times a fixed direction, growing with depth. So the
 * pipeline has something real to find, and tests can count and inspect every call.
 */
export class FakeLanguageModel implements LanguageModel {
  readonly direction: Float64Array;
  private readonly fake: SharedFake;
  private readonly embeddings: Float64Array[];

  constructor(
    private readonly traitScore: (text: string) => number,
    settings: { hiddenSize?: number; layerCount?: number; id?: string; chatTemplate?: boolean } = {},
  ) {
    const hiddenSize = settings.hiddenSize ?? 24;
    const layerCount = settings.layerCount ?? 4;
    const random = createSeededRandom(99);
    this.direction = new Float64Array(hiddenSize).map(() => random.nextNormal());
    this.embeddings = Array.from({ length: 300 }, () =>
      new Float64Array(hiddenSize).map(() => random.nextNormal()),
    );
    this.fake = createFakeLanguageModel({
      id: settings.id ?? 'hf:test/fake-model@0123abcd',
      hiddenSize,
      layerCount,
      hasChatTemplate: settings.chatTemplate ?? false,
      // "[silent]" prompts stop at once, so response windows can be empty.
      respond: ({ prompt }) =>
        prompt.includes('[silent]') ? '' : ` and then ${prompt.split(' ').at(-1)} again`,
      activations: ({ tokenIds, point }) => this.residuals(tokenIds, point),
    });
  }

  get id(): string {
    return this.fake.id;
  }
  get config(): ModelConfig {
    return this.fake.config;
  }
  get tokenizer(): TextTokenizer {
    return this.fake.tokenizer;
  }
  /** Throw on this forward call (1-based), to simulate an interrupted run. */
  get failOnForwardCall(): number | undefined {
    return this.fake.failOnForwardCall;
  }
  set failOnForwardCall(call: number | undefined) {
    this.fake.failOnForwardCall = call;
  }
  get calls(): { generate: number; forward: number; forwardInputs: number[][] } {
    return {
      generate: this.fake.generateCalls.length,
      forward: this.fake.forwardCalls.length,
      forwardInputs: this.fake.forwardCalls.flatMap((call) => call.tokenIds),
    };
  }

  applyChatTemplate(messages: readonly ChatMessage[]): string {
    return this.fake.applyChatTemplate(messages);
  }
  encodePrompt(prompt: PromptInput): number[] {
    return this.fake.encodePrompt(prompt);
  }
  generate(
    prompts: PromptInput | readonly PromptInput[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult[]> {
    return this.fake.generate(prompts, { ...options, maxNewTokens: options.maxNewTokens ?? 16 });
  }
  forward(inputs: PromptInput | readonly PromptInput[], options: ForwardOptions = {}): Promise<ForwardRow[]> {
    return this.fake.forward(inputs, options);
  }
  score(): Promise<Float32Array[]> {
    return Promise.resolve([]);
  }
  dispose(): Promise<void> {
    return this.fake.dispose();
  }

  private residuals(tokenIds: readonly number[], point: HookPoint): Float32Array {
    const size = this.config.hiddenSize;
    const out = new Float32Array(tokenIds.length * size);
    const running = new Float64Array(size);
    const depth = (point.layer + 1) / this.config.layerCount;
    tokenIds.forEach((id, position) => {
      const embedding = this.embeddings[id % 300]!;
      for (let i = 0; i < size; i++) running[i]! += embedding[i]!;
      const score = this.traitScore(this.tokenizer.decode(tokenIds.slice(0, position + 1)));
      for (let i = 0; i < size; i++) {
        out[position * size + i] =
          running[i]! / (position + 1) + 2 * depth * score * this.direction[i]! + 0.1 * point.layer;
      }
    });
    return out;
  }
}
