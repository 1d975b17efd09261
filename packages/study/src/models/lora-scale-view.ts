import type {
  ForwardOptions,
  GenerateOptions,
  LanguageModel,
  PromptInput,
  ScoreOptions,
} from '@traitlens/model-runtime';

/**
 * The model at a fixed LoRA scale: a model loaded with a switchable adapter, seen as the clean base
 * (scale 0) or the adapted model (scale 1) by code that knows nothing about adapters (steering, judges).
 * One 70B load then serves steering of the clean model, capture of the organism and the replay. Calls
 * that set `loraScale` themselves keep it (an undefined one counts as not set). `dispose` does nothing:
 * the owner of the model disposes it.
 */
export function createLoraScaleView(model: LanguageModel, loraScale: number): LanguageModel {
  const forward = (inputs: PromptInput | readonly PromptInput[], options: ForwardOptions = {}) =>
    model.forward(inputs, { ...options, loraScale: options.loraScale ?? loraScale });
  return {
    id: model.id,
    config: model.config,
    tokenizer: model.tokenizer,
    encodePrompt: (prompt, options) => model.encodePrompt(prompt, options),
    applyChatTemplate: (messages, options) => model.applyChatTemplate(messages, options),
    forward,
    generate: (prompts, options: GenerateOptions = {}) =>
      model.generate(prompts, { ...options, loraScale: options.loraScale ?? loraScale }),
    score: (inputs, options: ScoreOptions = {}) =>
      model.score(inputs, { ...options, loraScale: options.loraScale ?? loraScale }),
    dispose: async () => {},
  };
}
