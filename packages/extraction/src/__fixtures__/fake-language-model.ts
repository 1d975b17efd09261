import { formatHookPoint } from '@traitlens/core';
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
import { createSeededRandom } from '../numeric/seeded-random';

/**
 * Test-only LanguageModel: characters are tokens (id = char code + 3; BOS 1, EOS 2), generation echoes
 * a fixed continuation, and forward returns synthetic residual streams: a running mean of random token
 * embeddings plus `traitScore(text so far)` times a fixed direction, growing with depth. So the
 * pipeline has something real to find, and tests can count and inspect every call.
 */
export class FakeLanguageModel implements LanguageModel {
  readonly id: string;
  readonly config: ModelConfig;
  readonly tokenizer: TextTokenizer;
  readonly direction: Float64Array;
  readonly calls = { generate: 0, forward: 0, forwardInputs: [] as number[][] };
  /** Throw on this forward call (1-based), to simulate an interrupted run. */
  failOnForwardCall: number | undefined;
  private readonly embeddings: Float64Array[];

  constructor(
    private readonly traitScore: (text: string) => number,
    settings: { hiddenSize?: number; layerCount?: number; id?: string; chatTemplate?: boolean } = {},
  ) {
    const hiddenSize = settings.hiddenSize ?? 24;
    const layerCount = settings.layerCount ?? 4;
    this.id = settings.id ?? 'hf:test/fake-model@0123abcd';
    this.config = {
      architecture: 'LlamaForCausalLM',
      modelType: 'llama',
      hiddenSize,
      intermediateSize: hiddenSize * 2,
      layerCount,
      headCount: 2,
      kvHeadCount: 1,
      headDim: hiddenSize / 2,
      vocabSize: 300,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeScaling: undefined,
      maxPositionEmbeddings: 4096,
      tieWordEmbeddings: true,
      attentionBias: false,
      qkNorm: false,
      bosTokenId: 1,
      eosTokenIds: [2],
      padTokenId: undefined,
      slidingWindow: undefined,
    };
    const random = createSeededRandom(99);
    this.direction = new Float64Array(hiddenSize).map(() => random.nextNormal());
    this.embeddings = Array.from({ length: 300 }, () =>
      new Float64Array(hiddenSize).map(() => random.nextNormal()),
    );
    const hasChatTemplate = settings.chatTemplate ?? false;
    this.tokenizer = {
      encode: (text, options) => [
        ...(options?.addSpecialTokens === false ? [] : [1]),
        ...[...text].map((char) => (char.codePointAt(0)! % 297) + 3),
      ],
      decode: (ids) =>
        ids
          .filter((id) => id > 2)
          .map((id) => String.fromCodePoint(id - 3))
          .join(''),
      tokenStrings: (ids) =>
        ids.map((id) => (id > 2 ? String.fromCodePoint(id - 3) : id === 1 ? '<s>' : '</s>')),
      bosTokenId: 1,
      eosTokenIds: [2],
      vocabSize: 300,
      hasChatTemplate,
    };
  }

  applyChatTemplate(messages: readonly ChatMessage[]): string {
    return `${messages.map((message) => `<${message.role}>${message.content}`).join('')}<assistant>`;
  }

  encodePrompt(prompt: PromptInput): number[] {
    if (typeof prompt === 'string') return this.tokenizer.encode(prompt);
    if (prompt.length > 0 && typeof prompt[0] === 'number') return [...(prompt as readonly number[])];
    return this.tokenizer.encode(this.applyChatTemplate(prompt as readonly ChatMessage[]));
  }

  async generate(
    prompts: PromptInput | readonly PromptInput[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult[]> {
    this.calls.generate++;
    const list = (
      Array.isArray(prompts) && (prompts.length === 0 || typeof prompts[0] !== 'number') ? prompts : [prompts]
    ) as PromptInput[];
    return list.map((prompt) => {
      const promptTokenIds = this.encodePrompt(prompt);
      const promptText = this.tokenizer.decode(promptTokenIds);
      // "[silent]" prompts stop at once, so response windows can be empty.
      const continuation = promptText.includes('[silent]')
        ? ''
        : ` and then ${promptText.split(' ').at(-1)} again`;
      const responseTokenIds = this.tokenizer
        .encode(continuation, { addSpecialTokens: false })
        .slice(0, options.maxNewTokens ?? 16);
      return {
        promptTokenIds,
        responseTokenIds,
        promptTokens: this.tokenizer.tokenStrings(promptTokenIds),
        responseTokens: this.tokenizer.tokenStrings(responseTokenIds),
        promptText,
        responseText: this.tokenizer.decode(responseTokenIds),
        finishReason: 'length',
      };
    });
  }

  async forward(
    inputs: PromptInput | readonly PromptInput[],
    options: ForwardOptions = {},
  ): Promise<ForwardRow[]> {
    this.calls.forward++;
    if (this.failOnForwardCall === this.calls.forward) throw new Error('simulated crash during forward');
    const list = (
      Array.isArray(inputs) && (inputs.length === 0 || typeof inputs[0] !== 'number') ? inputs : [inputs]
    ) as PromptInput[];
    const size = this.config.hiddenSize;
    return list.map((input) => {
      const tokenIds = this.encodePrompt(input);
      this.calls.forwardInputs.push(tokenIds);
      const captures = new Map<string, Float32Array>();
      for (const point of options.capture ?? []) {
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
        captures.set(formatHookPoint(point), out);
      }
      return { tokenIds, logits: new Float32Array(0), captures };
    });
  }

  async score(): Promise<Float32Array[]> {
    return [];
  }

  async dispose(): Promise<void> {}
}
