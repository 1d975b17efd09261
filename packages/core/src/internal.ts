/**
 * `@traitlens/core/internal`: what the sibling traitlens packages share but users do not need. Not a
 * public API: anything here may change in any release without notice (see CONTRIBUTING.md).
 */

export { fileSystemErrorCode } from './files/file-system-error';
export { temporaryFileName } from './files/temporary-file-name';
export { activationTensorName, activationTextsPath, promptFileMetadata } from './formats/activation-file';
export { assertHookPoint, assertHookSite, assertLayerInRange, isHookSite } from './hooks/hook-point';
export { decomposeCholesky, decomposePivotedCholesky, solveWithCholesky } from './numeric/cholesky';
export {
  bfloat16ArrayToFloat32,
  float16BitsToNumber,
  float32ArrayToFloat16,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from './numeric/float16';
export {
  instantiateSimdDotKernels,
  type SimdDotKernelExports,
  simdDotKernelsSupported,
  simdDotKernelsWasm,
} from './numeric/simd-dot-kernels';
export { l2Norm } from './numeric/vector-math';
export { encodeSafetensors } from './safetensors/write-safetensors';
export { computeAurocOfClasses } from './stats/auroc';
export {
  fitLogisticRegression,
  type LogisticFeatures,
  type LogisticRegressionFit,
  type LogisticRegressionModel,
  type LogisticRegressionOptions,
  predictLogisticProbabilities,
} from './stats/logistic-regression';
export {
  computeLogGamma,
  computeRegularizedIncompleteBeta,
  computeStudentTCdf,
  computeStudentTTwoSidedPValue,
} from './stats/student-t';
export { isOneOf } from './values/is-one-of';
