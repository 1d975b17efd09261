import { TraitlensError } from '@traitlens/core';
import type { TextTokenizer } from '../model/language-model';
import type { ModelConfig } from '../model/model-types';
import type { PromptEncoder } from '../model/onnx-language-model';
import { encodePromptIds } from './encode-prompt-ids';
import { loadTokenizer } from './load-tokenizer';

/** Tokenizer + prompt encoder (chat template and the BOS rule) for a model folder. */
export async function loadPromptTokenizer(
  directory: string,
  config: ModelConfig,
): Promise<{ tokenizer: TextTokenizer; encoder: PromptEncoder }> {
  const tokenizer = await loadTokenizer(directory);
  if (tokenizer.vocabSize > config.vocabSize) {
    // Embedding matrices are often padded beyond the tokenizer (e.g. Qwen), never the other way round.
    throw new TraitlensError(
      'TOKENIZER_ERROR',
      `${directory}: the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}; tokenizer and weights do not belong together.`,
      { details: { directory } },
    );
  }
  const encoder: PromptEncoder = {
    encodePrompt: (prompt, options) => encodePromptIds(tokenizer, tokenizer.chatTemplate, prompt, options),
    applyChatTemplate: (messages, options) => {
      if (!tokenizer.chatTemplate) {
        throw new TraitlensError(
          'CHAT_TEMPLATE_ERROR',
          `${directory} has no chat template (tokenizer_config.json chat_template); it is probably a base model. Pass raw text instead.`,
          { details: { directory } },
        );
      }
      return tokenizer.chatTemplate.render(messages, {
        addGenerationPrompt: options?.addGenerationPrompt ?? true,
      });
    },
  };
  return { tokenizer, encoder };
}
