import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import {
  float32ArrayToFloat16,
  type SafetensorsCheckpoint,
  TraitlensError,
  writeJsonAtomic,
} from '@traitlens/core';
import type { ModelTensorNames } from '../architectures/architecture-adapter';
import type { ModelConfig } from '../model/model-types';
import type { StoredWeight, StoredWeightType, WeightManifest } from './weight-manifest';

/** Large tensors start on a page boundary so ORT can memory-map them. */
const pageSize = 4096;
/** Rows converted at a time: bounds the JS memory used per tensor to about this many bytes. */
const chunkBytes = 64 * 1024 * 1024;

interface PlannedWeight {
  name: string;
  /** Checkpoint tensors concatenated along rows (fused projections), in order. */
  sources: string[];
}

function planWeights(config: ModelConfig, names: ModelTensorNames): PlannedWeight[] {
  const planned: PlannedWeight[] = [
    { name: 'embedding', sources: [names.embedding] },
    { name: 'final_norm', sources: [names.finalNorm] },
  ];
  if (names.lmHead) planned.push({ name: 'lm_head', sources: [names.lmHead] });
  for (let layer = 0; layer < config.layerCount; layer++) {
    const n = names.layer(layer);
    const p = `layers.${layer}`;
    planned.push({ name: `${p}.input_norm`, sources: [n.inputNorm] });
    planned.push({ name: `${p}.post_attention_norm`, sources: [n.postAttentionNorm] });
    planned.push({ name: `${p}.qkv`, sources: [n.q, n.k, n.v] });
    if (n.qBias && n.kBias && n.vBias)
      planned.push({ name: `${p}.qkv_bias`, sources: [n.qBias, n.kBias, n.vBias] });
    if (n.qNorm && n.kNorm) {
      planned.push({ name: `${p}.q_norm`, sources: [n.qNorm] });
      planned.push({ name: `${p}.k_norm`, sources: [n.kNorm] });
    }
    planned.push({ name: `${p}.o`, sources: [n.o] });
    planned.push({ name: `${p}.gate_up`, sources: [n.gate, n.up] });
    planned.push({ name: `${p}.down`, sources: [n.down] });
  }
  return planned;
}

/** The shape every checkpoint tensor must have, so a wrong checkpoint fails before a graph is built. */
function expectedShapes(config: ModelConfig, names: ModelTensorNames): Map<string, number[]> {
  const {
    hiddenSize: d,
    intermediateSize: ffn,
    headCount: h,
    kvHeadCount: kv,
    headDim: hd,
    vocabSize: v,
  } = config;
  const shapes = new Map<string, number[]>([
    [names.embedding, [v, d]],
    [names.finalNorm, [d]],
  ]);
  if (names.lmHead) shapes.set(names.lmHead, [v, d]);
  for (let layer = 0; layer < config.layerCount; layer++) {
    const n = names.layer(layer);
    shapes.set(n.inputNorm, [d]);
    shapes.set(n.postAttentionNorm, [d]);
    shapes.set(n.q, [h * hd, d]);
    shapes.set(n.k, [kv * hd, d]);
    shapes.set(n.v, [kv * hd, d]);
    shapes.set(n.o, [d, h * hd]);
    if (n.qBias) shapes.set(n.qBias, [h * hd]);
    if (n.kBias) shapes.set(n.kBias, [kv * hd]);
    if (n.vBias) shapes.set(n.vBias, [kv * hd]);
    if (n.qNorm) shapes.set(n.qNorm, [hd]);
    if (n.kNorm) shapes.set(n.kNorm, [hd]);
    shapes.set(n.gate, [ffn, d]);
    shapes.set(n.up, [ffn, d]);
    shapes.set(n.down, [d, ffn]);
  }
  return shapes;
}

export interface WriteExternalWeightsOptions {
  dtype: StoredWeightType;
  onProgress?: (event: { done: number; total: number; weight: string }) => void;
}

interface BuildProgress {
  completed: Record<string, StoredWeight>;
  fileLength: number;
}

/**
 * Converts checkpoint tensors into one external data file in the graph's layout, streaming a block of
 * rows at a time (BF16/F16/F32 in; float32 or float16 out). The build is resumable: progress is recorded
 * after every weight, and a restarted build truncates the file to the last complete weight and goes on.
 */
export async function writeExternalWeights(
  checkpoint: SafetensorsCheckpoint,
  config: ModelConfig,
  names: ModelTensorNames,
  dataPath: string,
  options: WriteExternalWeightsOptions,
): Promise<WeightManifest> {
  const planned = planWeights(config, names);
  const shapes = expectedShapes(config, names);
  for (const [tensor, shape] of shapes) {
    if (!checkpoint.has(tensor)) {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${checkpoint.directory}: the checkpoint has no tensor "${tensor}", which ${config.architecture} needs. The weights do not match config.json.`,
        { details: { directory: checkpoint.directory, tensor } },
      );
    }
    const actual = (await checkpoint.info(tensor)).shape;
    if (actual.length !== shape.length || actual.some((value, i) => value !== shape[i])) {
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `${checkpoint.directory}: tensor "${tensor}" has shape [${actual.join(', ')}] but config.json implies [${shape.join(', ')}].`,
        { details: { tensor, actual, expected: shape } },
      );
    }
  }

  const partialPath = `${dataPath}.partial`;
  const progressPath = `${dataPath}.progress.json`;
  let progress: BuildProgress = { completed: {}, fileLength: 0 };
  try {
    progress = JSON.parse(await readFile(progressPath, 'utf8')) as BuildProgress;
    const size = (await stat(partialPath)).size;
    if (size < progress.fileLength) progress = { completed: {}, fileLength: 0 };
  } catch {
    progress = { completed: {}, fileLength: 0 };
    await writeFile(partialPath, new Uint8Array());
  }
  const handle = await open(partialPath, 'r+');
  try {
    await handle.truncate(progress.fileLength);
    let position = progress.fileLength;
    const elementBytes = options.dtype === 'float32' ? 4 : 2;
    let done = 0;
    for (const weight of planned) {
      done++;
      if (progress.completed[weight.name]) continue;
      const firstShape = shapes.get(weight.sources[0]!)!;
      const rowLength = firstShape.length > 1 ? firstShape.slice(1).reduce((a, b) => a * b, 1) : 1;
      const totalRows = weight.sources.reduce((sum, source) => sum + (shapes.get(source)![0] ?? 1), 0);
      const dims = firstShape.length > 1 ? [totalRows, rowLength] : [totalRows];
      const length = totalRows * rowLength * elementBytes;
      const alignment = length >= pageSize ? pageSize : 64;
      position = Math.ceil(position / alignment) * alignment;
      const offset = position;
      for (const source of weight.sources) {
        const rows = shapes.get(source)![0] ?? 1;
        const rowsPerChunk = Math.max(1, Math.floor(chunkBytes / (rowLength * 4)));
        for (let start = 0; start < rows; start += rowsPerChunk) {
          const end = Math.min(rows, start + rowsPerChunk);
          const values =
            firstShape.length > 1
              ? await checkpoint.readRowsAsFloat32(source, start, end)
              : await checkpoint.readFloat32(source);
          const bytes =
            options.dtype === 'float32'
              ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
              : new Uint8Array(float32ArrayToFloat16(values).buffer);
          await handle.write(bytes, 0, bytes.byteLength, position);
          position += bytes.byteLength;
          if (firstShape.length <= 1) break;
        }
      }
      progress.completed[weight.name] = { dims, type: options.dtype, offset, length };
      progress.fileLength = position;
      await writeJsonAtomic(progressPath, progress);
      options.onProgress?.({ done, total: planned.length, weight: weight.name });
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partialPath, dataPath);
  await rm(progressPath, { force: true });
  return { dataFile: dataPath.replace(/^.*[\\/]/, ''), dtype: options.dtype, weights: progress.completed };
}
