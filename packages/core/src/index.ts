export {
  TraitlensError,
  type TraitlensErrorCode,
  type TraitlensErrorOptions,
} from './errors/traitlens-error';
export { type ExperimentLayout, experimentLayout } from './experiment/experiment-layout';
export { ensureDirectory } from './files/ensure-directory';
export {
  type AcquireFileLockOptions,
  acquireFileLock,
  type FileLock,
  type FileLockOwner,
  readLockOwner,
  withFileLock,
} from './files/file-lock';
export {
  type FileSystemErrorContext,
  fileSystemErrorCode,
  isDiskFullError,
  toFileSystemError,
  withFileSystemErrors,
} from './files/file-system-error';
export { currentProcessIdentity, type ProcessIdentity, processState } from './files/process-identity';
export {
  type RemoveStaleTemporaryFilesOptions,
  removeStaleTemporaryFiles,
  temporaryFileName,
} from './files/temporary-file-name';
export { type WriteFileAtomicOptions, writeFileAtomic, writeJsonAtomic } from './files/write-file-atomic';
export {
  type ActivationPart,
  type ActivationRecord,
  type ActivationTexts,
  activationFormatVersion,
  activationTensorName,
  activationTextsPath,
  readActivationFile,
  writeActivationFile,
} from './formats/activation-file';
export {
  assertVectorsFitModel,
  readTraitVectors,
  type TraitVectorMetadata,
  type TraitVectorSet,
  traitVectorFormatVersion,
  writeTraitVectors,
} from './formats/trait-vector-file';
export {
  assertLayerInRange,
  formatHookPoint,
  type HookPoint,
  type HookSite,
  hookSites,
  isHookSite,
  isKnownLayerConvention,
  layerConvention,
  parseHookPoint,
  parseLayerSelection,
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
export { createSeededRandom, type SeededRandom } from './numeric/seeded-random';
export { cosineSimilarity, dot, type FloatArray, l2Norm, normalizeVector } from './numeric/vector-math';
export {
  type LoadedSafetensors,
  type LoadedTensor,
  parseSafetensors,
  readSafetensors,
} from './safetensors/read-safetensors';
export { SafetensorsCheckpoint } from './safetensors/safetensors-checkpoint';
export { bytesPerElement, isSafetensorsDtype, type SafetensorsDtype } from './safetensors/safetensors-dtype';
export {
  convertToFloat32,
  parseSafetensorsHeader,
  SafetensorsFile,
  type SafetensorsTensorInfo,
} from './safetensors/safetensors-file';
export {
  encodeSafetensors,
  type SafetensorsTensorInput,
  writeSafetensors,
} from './safetensors/write-safetensors';
export {
  formatWorkShard,
  isUnitInShard,
  parseWorkShard,
  type ResolvedWorkShard,
  resolveWorkShard,
  shardCountVariable,
  shardOfUnit,
  type WorkShard,
  type WorkShardSource,
  workShardFromEnvironment,
} from './shard/work-shard';
