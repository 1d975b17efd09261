import type { LanguageModel } from '@traitlens/model-runtime';

/** What a variant runs, by content (see computeModelIdentity): equal across machines and paths. */
export interface VariantIdentity {
  model: string;
  lora?: string | undefined;
}

/**
 * A named model variant: a model source, optionally with a PEFT LoRA adapter at a scale. The name is the
 * folder under `inference/` its files go to (e.g. `lora`, `clean`).
 */
export interface ModelVariant {
  name: string;
  /** Local Hugging Face model folder or `hf:org/name[@revision]`. */
  model: string;
  lora?:
    | {
        /** Local PEFT adapter folder or `hf:org/name[@revision]`. */
        source: string;
        /** Multiplies the adapter's delta (default 1; 0 runs the clean base model). */
        scale?: number | undefined;
      }
    | undefined;
}

/** A variant ready to run: the loaded model and the per-row LoRA scale that selects the variant. */
export interface LoadedVariant {
  name: string;
  model: LanguageModel;
  /**
   * Passed as `loraScale` to every generate/forward call when the model carries a switchable adapter
   * (0 = clean base); undefined when it carries none.
   */
  loraScale?: number | undefined;
  /** The adapter source, when the variant uses one (written into every file). */
  lora?: string | undefined;
  /** Model and adapter by content; when set, resuming compares these instead of paths. */
  identity?: VariantIdentity | undefined;
}

/**
 * What a file records about the variant that produced it. A clean variant served by an adapter-carrying
 * model says so (`lora` with `loraScale: 0`), since that is how its numbers were computed.
 */
export function describeVariant(variant: LoadedVariant): {
  variant: string;
  model: string;
  lora?: string;
  loraScale?: number;
  identity?: VariantIdentity | undefined;
} {
  return {
    variant: variant.name,
    model: variant.model.id,
    ...(variant.lora !== undefined ? { lora: variant.lora, loraScale: variant.loraScale ?? 1 } : {}),
    // Always present (undefined when unknown), so spreading it over a copied record replaces the copy's.
    identity: variant.identity,
  };
}
