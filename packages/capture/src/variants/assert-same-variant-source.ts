import { TraitlensError } from '@traitlens/core';
import type { CapturedResponse } from '../storage/captured-response';
import { describeVariant, type LoadedVariant } from './model-variant';

/**
 * Throws when a stored response was made by another model, adapter or scale than the variant now
 * running under the same name: mixing them in one folder would corrupt the comparison silently.
 */
export function assertSameVariantSource(
  stored: CapturedResponse,
  variant: LoadedVariant,
  path: string,
): void {
  const now = describeVariant(variant);
  // By content when both sides know it (paths differ between machines); by source otherwise.
  const identities =
    stored.identity !== undefined && now.identity !== undefined
      ? { stored: stored.identity, now: now.identity }
      : undefined;
  const differs = identities
    ? identities.stored.model !== identities.now.model ||
      identities.stored.lora !== identities.now.lora ||
      (stored.lora === undefined) !== (now.lora === undefined) ||
      (stored.loraScale ?? 1) !== (now.loraScale ?? 1)
    : stored.model !== now.model ||
      stored.lora !== now.lora ||
      (stored.loraScale ?? 1) !== (now.loraScale ?? 1);
  if (differs)
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${path} was made by ${stored.model}${identities ? ` (${identities.stored.model})` : ''}${stored.lora ? ` + LoRA ${stored.lora} (scale ${stored.loraScale})` : ''}, but variant "${variant.name}" now runs ${now.model}${identities ? ` (${identities.now.model})` : ''}${now.lora ? ` + LoRA ${now.lora} (scale ${now.loraScale})` : ''}. Use a new variant name for a different model, or --force to replace this variant's files.`,
      { details: { file: path, storedModel: stored.model, model: now.model } },
    );
}
