import type { ChatMessage, PromptInput } from './model-types';

function isChatMessages(value: unknown): value is readonly ChatMessage[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    typeof value[0] === 'object' &&
    value[0] !== null &&
    'role' in value[0]
  );
}

/** Tells a single prompt from a batch of prompts. */
export function toPromptBatch(inputs: PromptInput | readonly PromptInput[]): PromptInput[] {
  if (typeof inputs === 'string') return [inputs];
  if (Array.isArray(inputs) && (inputs.length === 0 || typeof inputs[0] === 'number'))
    return [inputs as readonly number[]];
  if (isChatMessages(inputs)) return [inputs];
  return [...(inputs as readonly PromptInput[])];
}
