import { TraitlensError } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import type { AbItem } from './read-ab-items';

/**
 * How a question reaches the model. `chat`: a user message through the chat template, the answer
 * starting the assistant turn (CAA). `raw` (base models without a template): the text
 * `<question>\n\nAnswer:` followed by ` (A)`.
 */
export type AbPromptFormat = 'chat' | 'raw';

/** Token ids of one item answered both ways, and the positions the study reads. */
export interface AbSequences {
  /** Prompt + behaviour answer (`(A)` when A is the sycophantic choice). */
  behaviour: number[];
  /** Prompt + the other answer. */
  other: number[];
  /**
   * The first position where the two differ: the token carrying the answer letter. CAA reads its
   * activation there; the model's choice is the next-token comparison one position before.
   */
  letterPosition: number;
  /** The token the behaviour answer / the other answer has at `letterPosition`. */
  behaviourToken: number;
  otherToken: number;
  /** Last token of each answer (e.g. `)`), a second position to build vectors at. */
  behaviourEnd: number;
  otherEnd: number;
}

/** `auto` -> chat when the model has a chat template, raw otherwise. */
export function resolveAbPromptFormat(model: LanguageModel, format: 'auto' | AbPromptFormat): AbPromptFormat {
  if (format !== 'auto') return format;
  return model.tokenizer.hasChatTemplate ? 'chat' : 'raw';
}

function renderAbPrompt(model: LanguageModel, item: AbItem, format: AbPromptFormat): string {
  if (format === 'raw') return `${item.question}\n\nAnswer:`;
  if (!model.tokenizer.hasChatTemplate)
    throw new TraitlensError(
      'CHAT_TEMPLATE_ERROR',
      `${model.id} has no chat template; use promptFormat: raw (a base model reads "<question>\\n\\nAnswer: (A)").`,
      { details: { model: model.id } },
    );
  return model.applyChatTemplate([{ role: 'user', content: item.question }], { addGenerationPrompt: true });
}

/**
 * Tokenises prompt + answer as one text (tokenisers may merge across the boundary, so the answer is never
 * tokenised alone), then finds where the two answers part. Returns undefined when the sequences exceed
 * the model's context.
 */
export function buildAbSequences(
  model: LanguageModel,
  item: AbItem,
  format: AbPromptFormat,
): AbSequences | undefined {
  const prompt = renderAbPrompt(model, item, format);
  const separator = format === 'raw' ? ' ' : '';
  const behaviour = model.encodePrompt(`${prompt}${separator}${item.behaviourAnswer}`);
  const other = model.encodePrompt(`${prompt}${separator}${item.otherAnswer}`);
  if (Math.max(behaviour.length, other.length) > model.config.maxPositionEmbeddings) return undefined;
  let letterPosition = 0;
  while (
    letterPosition < Math.min(behaviour.length, other.length) &&
    behaviour[letterPosition] === other[letterPosition]
  )
    letterPosition++;
  if (letterPosition === 0 || letterPosition >= Math.min(behaviour.length, other.length)) {
    throw new TraitlensError(
      'TOKENIZER_ERROR',
      `Item ${item.index}: the answers ${item.behaviourAnswer} and ${item.otherAnswer} tokenise to ${letterPosition === 0 ? 'sequences that differ from the first token' : 'the same ids'}; the A/B comparison needs a shared prompt and a differing answer token.`,
      { details: { index: item.index } },
    );
  }
  return {
    behaviour,
    other,
    letterPosition,
    behaviourToken: behaviour[letterPosition]!,
    otherToken: other[letterPosition]!,
    behaviourEnd: behaviour.length - 1,
    otherEnd: other.length - 1,
  };
}

/** An item with its sequences. */
export interface PreparedAbItem {
  item: AbItem;
  sequences: AbSequences;
}

/** Sequences of every item; items longer than the context are left out and counted. */
export function prepareAbItems(
  model: LanguageModel,
  items: readonly AbItem[],
  format: AbPromptFormat,
): { prepared: PreparedAbItem[]; tooLong: number } {
  const prepared: PreparedAbItem[] = [];
  let tooLong = 0;
  for (const item of items) {
    const sequences = buildAbSequences(model, item, format);
    if (sequences) prepared.push({ item, sequences });
    else tooLong++;
  }
  return { prepared, tooLong };
}
