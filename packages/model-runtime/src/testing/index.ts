export {
  createTinyModel,
  type TinyModel,
  type TinyModelArchitecture,
  type TinyModelOptions,
  tinyModelArchitectures,
} from './create-tiny-model';
export type { TinyModelDtype } from './encode-weights-safetensors';
export {
  createFakeLanguageModel,
  type FakeLanguageModel,
  type FakeModelOptions,
  type RowSteering,
} from './fake-language-model';
export { createSeededRandom, type SeededRandom } from './seeded-random';
export { tinyChatTemplate } from './tiny-chat-template';
export {
  buildTinyTokenizer,
  type TinySpecialToken,
  type TinyTokenizer,
  tinySpecialTokens,
} from './tiny-tokenizer';
