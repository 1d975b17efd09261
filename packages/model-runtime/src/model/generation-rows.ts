import type { TextTokenizer } from './language-model';
import type { GenerateOptions, GenerationResult } from './model-types';
import { createRandom, type SamplingSettings, sampleToken } from './sampling';

/** What one step of a graph run gives the decode loop: greedy picks, or logits to sample from. */
export interface StepChoices {
  nextTokens: BigInt64Array | undefined;
  nextLogprobs: Float32Array | undefined;
  logits: Float32Array | undefined;
}

/**
 * Makes per-token strings concatenate to the response text: after a special token (BOS) a tokenizer
 * shows the first word with its leading space, while the decoded text (special tokens skipped) has none.
 * Only such a leading surplus is removed; anything else is left as the tokenizer gave it.
 */
export function alignPiecesToText(pieces: string[], text: string | undefined): string[] {
  if (text === undefined) return pieces;
  const joined = pieces.join('');
  if (joined === text || !joined.endsWith(text)) return pieces;
  let surplus = joined.length - text.length;
  return pieces.map((piece) => {
    const removed = Math.min(surplus, piece.length);
    surplus -= removed;
    return piece.slice(removed);
  });
}

interface RowState {
  promptTokenIds: number[];
  responseTokenIds: number[];
  logprobs: number[];
  finish: GenerationResult['finishReason'] | undefined;
  /** Where a stop string starts in the response text. */
  stopTextCut: number | undefined;
  /** The text streamed through onToken so far. */
  streamedText: string;
}

/**
 * The rows of one `generate` call: each step takes every running row's token (greedy pick or sample),
 * checks stop tokens and stop strings, streams the text it adds, and finally builds the results.
 */
export class GenerationRows {
  private readonly rows: RowState[];
  private readonly sampling: SamplingSettings;
  private readonly random: () => number;
  private readonly stopTokenIds: ReadonlySet<number>;

  constructor(
    prompts: readonly number[][],
    private readonly tokenizer: TextTokenizer,
    private readonly options: GenerateOptions,
  ) {
    this.rows = prompts.map((promptTokenIds) => ({
      promptTokenIds,
      responseTokenIds: [],
      logprobs: [],
      finish: undefined,
      stopTextCut: undefined,
      streamedText: '',
    }));
    this.sampling = { temperature: options.temperature ?? 0, topK: options.topK, topP: options.topP };
    this.random = createRandom(options.seed ?? 0);
    this.stopTokenIds = new Set(options.stopTokenIds ?? tokenizer.eosTokenIds);
  }

  /** Greedy decoding reads only each row's argmax and its log-probability, not [rows, vocab] logits. */
  get outputs(): 'greedy' | 'logits' {
    return this.sampling.temperature <= 0 ? 'greedy' : 'logits';
  }

  get allFinished(): boolean {
    return this.rows.every((row) => row.finish !== undefined);
  }

  /** Takes step `step`'s token of every running row; finished rows get `padTokenId` as their next input. */
  takeTokens(choices: StepChoices, step: number, padTokenId: number, vocabSize: number): number[] {
    return this.rows.map((row, b) => {
      if (row.finish) return padTokenId;
      const { tokenId, logprob } = choices.nextTokens
        ? { tokenId: Number(choices.nextTokens[b]!), logprob: choices.nextLogprobs![b]! }
        : sampleToken(
            choices.logits!.subarray(b * vocabSize, (b + 1) * vocabSize),
            this.sampling,
            this.random,
          );
      row.responseTokenIds.push(tokenId);
      if (this.options.logprobs) row.logprobs.push(logprob);
      this.checkStop(row, tokenId);
      this.stream(row, b, tokenId, step);
      return tokenId;
    });
  }

  private checkStop(row: RowState, tokenId: number): void {
    const stopStrings = this.options.stopStrings ?? [];
    if (this.stopTokenIds.has(tokenId)) row.finish = 'stop_token';
    else if (stopStrings.length > 0) {
      const text = this.decodeContinuation(row.promptTokenIds, row.responseTokenIds);
      const hits = stopStrings.map((stop) => text.indexOf(stop)).filter((index) => index >= 0);
      if (hits.length > 0) {
        row.finish = 'stop_string';
        row.stopTextCut = Math.min(...hits);
      }
    }
  }

  /**
   * Streams the text a token adds in context (leading spaces kept, a character split across byte tokens
   * emitted once complete), so the pieces concatenate to the response text.
   */
  private stream(row: RowState, index: number, tokenId: number, step: number): void {
    if (!this.options.onToken) return;
    const text = this.decodeContinuation(row.promptTokenIds, row.responseTokenIds);
    const complete = text.endsWith('\uFFFD') ? text.slice(0, text.length - 1) : text;
    const previous = row.streamedText;
    const piece = complete.startsWith(previous) ? complete.slice(previous.length) : '';
    if (complete.startsWith(previous)) row.streamedText = complete;
    this.options.onToken({ row: index, tokenId, text: piece, step });
  }

  results(): GenerationResult[] {
    return this.rows.map((row) => {
      const { promptTokenIds, responseTokenIds, stopTextCut: cut } = row;
      let responseText = this.decodeContinuation(promptTokenIds, responseTokenIds);
      const tokenStrings = this.tokenizer.tokenStrings([...promptTokenIds, ...responseTokenIds]);
      if (cut !== undefined) responseText = responseText.slice(0, cut);
      const generation: GenerationResult = {
        promptTokenIds,
        responseTokenIds,
        // Token strings in context, so the first response token keeps its leading space.
        promptTokens: tokenStrings.slice(0, promptTokenIds.length),
        responseTokens: alignPiecesToText(
          tokenStrings.slice(promptTokenIds.length),
          cut === undefined ? responseText : undefined,
        ),
        promptText: this.tokenizer.decode(promptTokenIds, { skipSpecialTokens: false }),
        responseText,
        finishReason: row.finish ?? 'length',
      };
      if (this.options.logprobs) generation.tokenLogprobs = row.logprobs;
      return generation;
    });
  }

  /**
   * The text the response adds after the prompt. Decoding the response ids alone would drop a leading
   * space (SentencePiece strips the first one), so the prompt is decoded with and without them.
   */
  private decodeContinuation(promptIds: readonly number[], responseIds: readonly number[]): string {
    const prompt = this.tokenizer.decode(promptIds, { skipSpecialTokens: true });
    const whole = this.tokenizer.decode([...promptIds, ...responseIds], { skipSpecialTokens: true });
    return whole.startsWith(prompt)
      ? whole.slice(prompt.length)
      : this.tokenizer.decode(responseIds, { skipSpecialTokens: true });
  }
}
