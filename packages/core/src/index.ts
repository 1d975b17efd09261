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
  withFileLock,
} from './files/file-lock';
export {
  type FileSystemErrorContext,
  toFileSystemError,
  withFileSystemErrors,
} from './files/file-system-error';
export type { ProcessIdentity } from './files/process-identity';
export {
  type RemoveStaleTemporaryFilesOptions,
  removeStaleTemporaryFiles,
} from './files/temporary-file-name';
export { type WriteFileAtomicOptions, writeFileAtomic, writeJsonAtomic } from './files/write-file-atomic';
export {
  type ActivationPart,
  type ActivationRecord,
  type ActivationTexts,
  readActivationFile,
  writeActivationFile,
} from './formats/activation-file';
export {
  assertVectorsFitModel,
  readTraitVectors,
  type TraitVectorMetadata,
  type TraitVectorSet,
  writeTraitVectors,
} from './formats/trait-vector-file';
export {
  formatHookPoint,
  type HookPoint,
  type HookSite,
  hookSites,
  isKnownLayerConvention,
  layerConvention,
  parseHookPoint,
  parseLayerSelection,
} from './hooks/hook-point';
export {
  type SteeringCoefficient,
  type SteeringMode,
  type SteeringPositions,
  type SteeringSpec,
  steeringModes,
  steeringPositions,
} from './hooks/steering-spec';
export type { Judge, JudgeKind, JudgeRequest } from './judge/judge';
export { createSeededRandom, type SeededRandom } from './numeric/seeded-random';
export { cosineSimilarity, dot } from './numeric/vector-math';
export { type LoadedSafetensors, type LoadedTensor, readSafetensors } from './safetensors/read-safetensors';
export { SafetensorsCheckpoint } from './safetensors/safetensors-checkpoint';
export type { SafetensorsDtype } from './safetensors/safetensors-dtype';
export { SafetensorsFile, type SafetensorsTensorInfo } from './safetensors/safetensors-file';
export { type SafetensorsTensorInput, writeSafetensors } from './safetensors/write-safetensors';
export {
  formatWorkShard,
  isUnitInShard,
  parseWorkShard,
  type ResolvedWorkShard,
  resolveWorkShard,
  shardOfUnit,
  type WorkShard,
  type WorkShardSource,
  workShardFromEnvironment,
} from './shard/work-shard';
