import type { TextTokenizer } from '../model/language-model';
import type { ChatTemplate } from './chat-template';

/**
 * The part of `@huggingface/tokenizers`' `Tokenizer` this class calls. Declared here, not imported, so the
 * published d.ts does not reference that package's types (which do not type-check under
 * `moduleResolution: nodenext` without skipLibCheck); its `Tokenizer` satisfies this structurally.
 */
export interface TokenizerBackend {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(
    ids: number[],
    options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean },
  ): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}

export interface HuggingFaceTokenizerParts {
  tokenizer: TokenizerBackend;
  bosToken: string | undefined;
  bosTokenId: number | undefined;
  eosTokenIds: readonly number[];
  /** tokenizer_config `add_bos_token` / `add_eos_token`, when stated (they override the post-processor). */
  addBosToken: boolean | undefined;
  addEosToken: boolean | undefined;
  cleanUpTokenizationSpaces: boolean;
  chatTemplate: ChatTemplate | undefined;
}

/** How many already-emitted tokens `tokenStrings` decodes again as context for the next one. */
const contextTokenCount = 6;

/** A `TextTokenizer` over a Hugging Face tokenizer.json, with the special tokens of its model. */
export class HuggingFaceTokenizer implements TextTokenizer {
  readonly bosToken: string | undefined;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly vocabSize: number;
  readonly chatTemplate: ChatTemplate | undefined;
  private readonly tokenizer: TokenizerBackend;
  private readonly addBosToken: boolean | undefined;
  private readonly addEosToken: boolean | undefined;
  private readonly cleanUpTokenizationSpaces: boolean;

  constructor(parts: HuggingFaceTokenizerParts) {
    this.tokenizer = parts.tokenizer;
    this.bosToken = parts.bosToken;
    this.bosTokenId = parts.bosTokenId;
    this.eosTokenIds = parts.eosTokenIds;
    this.addBosToken = parts.addBosToken;
    this.addEosToken = parts.addEosToken;
    this.cleanUpTokenizationSpaces = parts.cleanUpTokenizationSpaces;
    this.chatTemplate = parts.chatTemplate;
    let largestId = -1;
    for (const id of parts.tokenizer.get_vocab(true).values()) largestId = Math.max(largestId, id);
    this.vocabSize = largestId + 1;
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== undefined;
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    const ids = this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    if (!addSpecialTokens) return ids;
    // transformers rebuilds Llama-style post-processors from add_bos_token/add_eos_token, so those
    // flags win over what tokenizer.json's post-processor does on its own.
    const bos = this.bosTokenId;
    if (bos !== undefined && this.addBosToken !== undefined) {
      const plainLength = this.tokenizer.encode(text, { add_special_tokens: false }).ids.length;
      const addedBos = ids.length > plainLength && ids[0] === bos;
      if (this.addBosToken && !addedBos) ids.unshift(bos);
      if (!this.addBosToken && addedBos) ids.shift();
    }
    const eos = this.eosTokenIds[0];
    if (this.addEosToken === true && eos !== undefined && ids.at(-1) !== eos) ids.push(eos);
    return ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpTokenizationSpaces,
    });
  }

  /**
   * The text each token adds to the decoded string, special tokens included, such that the pieces
   * concatenate to `decode(ids)`. Decoding is not per-token (SentencePiece strips the first space,
   * byte tokens combine into one character), so each piece is the difference between decoding a short
   * window with and without the token. A token that ends inside a multi-byte character gets '' and
   * the token that completes the character carries it whole.
   */
  tokenStrings(ids: readonly number[]): string[] {
    const pieces: string[] = [];
    let emittedUpTo = 0;
    let windowStart = 0;
    let emittedText = '';
    for (let index = 0; index < ids.length; index++) {
      const text = this.decode(ids.slice(windowStart, index + 1));
      const isLast = index === ids.length - 1;
      if (text.endsWith('\uFFFD') && !isLast) {
        pieces.push('');
        continue;
      }
      pieces.push(
        text.startsWith(emittedText)
          ? text.slice(emittedText.length)
          : text.slice(commonPrefixLength(text, emittedText)),
      );
      emittedUpTo = index + 1;
      windowStart = Math.max(windowStart, emittedUpTo - contextTokenCount);
      emittedText = this.decode(ids.slice(windowStart, emittedUpTo));
    }
    return pieces;
  }

  /** The id of a token string (special tokens included), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** The token string of an id (in the model's vocabulary form, e.g. `Ġthe` or `▁the`), or undefined. */
  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }
}

function commonPrefixLength(a: string, b: string): number {
  let length = 0;
  while (length < a.length && length < b.length && a[length] === b[length]) length++;
  return length;
}
