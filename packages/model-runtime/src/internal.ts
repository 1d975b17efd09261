/**
 * `@traitlens/model-runtime/internal`: what sibling traitlens packages and this package's tests share but users do not
 * need. Not a public API: anything here may change in any release without notice (see CONTRIBUTING.md).
 */
export { parseModelConfig } from './architectures/index';
export { logSoftmax } from './model/sampling';
export { assessMemoryFit } from './plan/format-memory-plan';
export { parseByteSize } from './plan/parse-byte-size';
export { dequantizeBlockwise, quantizeBlockwise } from './quantization/quantize-blockwise';
