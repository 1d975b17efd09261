import { TraitlensError } from '@traitlens/core';
import type { EncodePromptOptions, TextTokenizer } from '../model/language-model';
import type { ChatMessage, PromptInput } from '../model/model-types';
import type { ChatTemplate } from './chat-template';

/** What BOS handling needs beyond `TextTokenizer`: the BOS token's text. */
export interface PromptTokenizer extends TextTokenizer {
  readonly bosToken: string | undefined;
}

function isTokenIdList(prompt: readonly unknown[]): prompt is readonly number[] {
  return prompt.every((value) => typeof value === 'number');
}

/**
 * Token ids for a prompt, never with a duplicated BOS (a bug of the original study: chat-templated text
 * that already began with BOS got a second one from the tokenizer).
 * - text: the tokenizer's special tokens are added unless the text already starts with the BOS string;
 * - token ids: returned unchanged (stored ids are reused as they are, never re-tokenised);
 * - chat messages: rendered with `chatTemplate`; the text is encoded without special tokens when the
 *   template wrote BOS itself, and with them otherwise.
 */
export function encodePromptIds(
  tokenizer: PromptTokenizer,
  chatTemplate: ChatTemplate | undefined,
  prompt: PromptInput,
  options: EncodePromptOptions = {},
): number[] {
  if (typeof prompt === 'string') return encodeTextOnce(tokenizer, prompt);
  if (prompt.length === 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'The prompt is empty: give text, at least one token id, or at least one chat message.',
    );
  }
  if (isTokenIdList(prompt)) {
    prompt.forEach((id, index) => {
      if (!Number.isInteger(id) || id < 0) {
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `Prompt token id at position ${index} is ${id}; token ids must be non-negative integers.`,
        );
      }
    });
    return [...prompt];
  }
  if (chatTemplate === undefined) {
    throw new TraitlensError(
      'CHAT_TEMPLATE_ERROR',
      'This model has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja), so chat messages cannot be rendered; pass raw text or token ids instead, or use an instruct model.',
    );
  }
  const text = chatTemplate.render(prompt as readonly ChatMessage[], {
    addGenerationPrompt: options.addGenerationPrompt ?? true,
  });
  return encodeTextOnce(tokenizer, text);
}

function encodeTextOnce(tokenizer: PromptTokenizer, text: string): number[] {
  const startsWithBos =
    tokenizer.bosToken !== undefined && tokenizer.bosToken !== '' && text.startsWith(tokenizer.bosToken);
  return tokenizer.encode(text, { addSpecialTokens: !startsWithBos });
}
