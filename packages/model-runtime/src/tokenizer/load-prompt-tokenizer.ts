import type { TextTokenizer } from '../model/language-model';
import type { ModelConfig } from '../model/model-types';
import type { PromptEncoder } from '../model/onnx-language-model';

/** Tokenizer + prompt encoder for a model folder. */
export async function loadPromptTokenizer(
  directory: string,
  config: ModelConfig,
): Promise<{ tokenizer: TextTokenizer; encoder: PromptEncoder }> {
  void directory;
  void config;
  throw new Error('tokenizer integration pending');
}
