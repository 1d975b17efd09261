export type { EncodePromptOptions, LanguageModel, TextTokenizer } from './model/language-model';
export type {
  ChatMessage,
  ForwardOptions,
  ForwardRow,
  GenerateOptions,
  GenerationResult,
  ModelConfig,
  PromptInput,
  RopeScaling,
  SteeringSpec,
} from './model/model-types';
