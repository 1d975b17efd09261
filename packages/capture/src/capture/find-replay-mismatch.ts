import type { CapturedResponse } from '../storage/captured-response';
import type { LoadedVariant } from '../variants/model-variant';

/**
 * Why the replaying model cannot read a stored response as the generating model did, or undefined when
 * it can. Replay feeds the stored token ids themselves, so the ids decide: every id must be inside the
 * replaying vocabulary. The per-token strings only detect a different tokenizer (the same ids meaning
 * other text); positions the generating run left blank (a special token such as an immediate
 * end-of-turn, or a byte inside a multi-byte character) carry no text to compare and are matched by id
 * alone. Strings appear only in the returned message.
 */
export function findReplayMismatch(record: CapturedResponse, variant: LoadedVariant): string | undefined {
  const { tokenizer, config } = variant.model;
  for (const part of ['prompt', 'response'] as const) {
    const ids = part === 'prompt' ? record.promptTokenIds : record.responseTokenIds;
    const outside = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= config.vocabSize);
    if (outside >= 0)
      return `${part} token ${outside} has id ${ids[outside]}, outside the ${config.vocabSize}-token vocabulary of ${variant.model.id}; replay needs a model with the generating model's tokenizer`;
    const expected = part === 'prompt' ? record.promptTokens : record.responseTokens;
    // Response tokens are read in the context of the prompt, as generate() reports them.
    const actual =
      part === 'prompt'
        ? tokenizer.tokenStrings(ids)
        : tokenizer.tokenStrings([...record.promptTokenIds, ...ids]).slice(record.promptTokenIds.length);
    for (let position = 0; position < ids.length; position++) {
      const stored = expected[position];
      const read = actual[position];
      if (stored === undefined || stored === '' || stored === read) continue;
      // generate() trims the leading space of the first response token after a special token.
      if (part === 'response' && position === 0 && read?.trimStart() === stored.trimStart()) continue;
      return `${variant.model.id} reads ${part} token ${position} (id ${ids[position]}) as ${JSON.stringify(read)} but ${record.model} produced ${JSON.stringify(stored)}; replay needs a model with the generating model's tokenizer`;
    }
  }
  return undefined;
}
