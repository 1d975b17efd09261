export { TraitlensError, type TraitlensErrorCode, type TraitlensErrorOptions } from './errors/traitlens-error';
export {
  activationFormatVersion,
  activationTensorName,
  readActivationFile,
  writeActivationFile,
  type ActivationPart,
  type ActivationRecord,
  type ActivationTexts,
} from './formats/activation-file';
export {
  assertVectorsFitModel,
  readTraitVectors,
  traitVectorFormatVersion,
  writeTraitVectors,
  type TraitVectorMetadata,
  type TraitVectorSet,
} from './formats/trait-vector-file';
export { writeFileAtomic, writeJsonAtomic } from './files/write-file-atomic';
export { experimentLayout, type ExperimentLayout } from './experiment/experiment-layout';
export {
  assertLayerInRange,
  formatHookPoint,
  hookSites,
  isHookSite,
  layerConvention,
  parseHookPoint,
  parseLayerSelection,
  type HookPoint,
  type HookSite,
} from './hooks/hook-point';
export type { Judge, JudgeKind, JudgeRequest } from './judge/judge';
export {
  bfloat16ArrayToFloat32,
  bfloat16BitsToNumber,
  float16ArrayToFloat32,
  float16BitsToNumber,
  float32ArrayToFloat16,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from './numeric/float16';
export { cosineSimilarity, dot, l2Norm, normalizeVector, type FloatArray } from './numeric/vector-math';
export { parseSafetensors, readSafetensors, type LoadedSafetensors, type LoadedTensor } from './safetensors/read-safetensors';
export { SafetensorsCheckpoint } from './safetensors/safetensors-checkpoint';
export { bytesPerElement, isSafetensorsDtype, type SafetensorsDtype } from './safetensors/safetensors-dtype';
export { convertToFloat32, parseSafetensorsHeader, SafetensorsFile, type SafetensorsTensorInfo } from './safetensors/safetensors-file';
export { encodeSafetensors, writeSafetensors, type SafetensorsTensorInput } from './safetensors/write-safetensors';
