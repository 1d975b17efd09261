import { type FileHandle, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { type SafetensorsCheckpoint, TraitlensError, writeJsonAtomic } from '@traitlens/core';
import { float32ArrayToFloat16 } from '@traitlens/core/internal';
import type { ModelTensorNames } from '../architectures/architecture-adapter';
import { addLoraDelta, type LoraAdapter } from '../lora/load-lora-adapter';
import type { ModelConfig } from '../model/model-types';
import { blockCount, type QuantizationSettings, quantizeBlockwise } from '../quantization/quantize-blockwise';
import type { ExternalRegion, StoredWeight, StoredWeightType, WeightManifest } from './weight-manifest';

/** Large tensors start on a page boundary so ORT can memory-map them. */
const pageSize = 4096;
/** Rows converted at a time: bounds the JS memory used per tensor to about this many bytes. */
const chunkBytes = 64 * 1024 * 1024;

interface PlannedWeight {
  name: string;
  /** Checkpoint tensors concatenated along rows (fused projections), in order. */
  sources: string[];
  /** A projection matrix (or a quantized embedding): may be quantized and may carry LoRA. */
  matrix: boolean;
}

/**
 * Whether the embedding is stored quantized: with int8/int4 weights when the hidden size is a whole
 * number of blocks (GatherBlockQuantized reads the MatMulNBits layout as [vocab, hidden * bits / 8]).
 * A 70B-class embedding (128256 x 8192) is 4 GiB in fp32, over a GPU's largest single buffer.
 */
export function embeddingIsQuantized(
  config: ModelConfig,
  quantization: QuantizationSettings | undefined,
): boolean {
  return quantization !== undefined && config.hiddenSize % quantization.blockSize === 0;
}

function planWeights(
  config: ModelConfig,
  names: ModelTensorNames,
  quantization: QuantizationSettings | undefined,
): PlannedWeight[] {
  const quantizedEmbedding = embeddingIsQuantized(config, quantization);
  const planned: PlannedWeight[] = [
    { name: 'embedding', sources: [names.embedding], matrix: quantizedEmbedding },
    { name: 'final_norm', sources: [names.finalNorm], matrix: false },
  ];
  // A tied output projection is the embedding itself. A float embedding with quantized projections
  // gets a quantized copy for MatMulNBits; a quantized embedding serves both (same codes).
  if (names.lmHead || (quantization && !quantizedEmbedding))
    planned.push({ name: 'lm_head', sources: [names.lmHead ?? names.embedding], matrix: true });
  for (let layer = 0; layer < config.layerCount; layer++) {
    const n = names.layer(layer);
    const p = `layers.${layer}`;
    planned.push({ name: `${p}.input_norm`, sources: [n.inputNorm], matrix: false });
    planned.push({ name: `${p}.post_attention_norm`, sources: [n.postAttentionNorm], matrix: false });
    planned.push({ name: `${p}.qkv`, sources: [n.q, n.k, n.v], matrix: true });
    if (n.qBias && n.kBias && n.vBias)
      planned.push({ name: `${p}.qkv_bias`, sources: [n.qBias, n.kBias, n.vBias], matrix: false });
    if (n.qNorm && n.kNorm) {
      planned.push({ name: `${p}.q_norm`, sources: [n.qNorm], matrix: false });
      planned.push({ name: `${p}.k_norm`, sources: [n.kNorm], matrix: false });
    }
    planned.push({ name: `${p}.o`, sources: [n.o], matrix: true });
    planned.push({ name: `${p}.gate_up`, sources: [n.gate, n.up], matrix: true });
    planned.push({ name: `${p}.down`, sources: [n.down], matrix: true });
  }
  return planned;
}

/** The shape every checkpoint tensor must have, so a wrong checkpoint fails before a graph is built. */
export function expectedTensorShapes(config: ModelConfig, names: ModelTensorNames): Map<string, number[]> {
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
  checkpoint: SafetensorsCheckpoint;
  config: ModelConfig;
  names: ModelTensorNames;
  /** The external data file to write (`<dataPath>.partial` and `.progress.json` while it is built). */
  dataPath: string;
  dtype: StoredWeightType;
  quantization?: QuantizationSettings | undefined;
  lora?: { adapter: LoraAdapter; mode: 'switchable' | 'merged' } | undefined;
  onProgress?: ((event: { done: number; total: number; weight: string }) => void) | undefined;
}

interface BuildProgress {
  completed: Record<string, StoredWeight>;
  fileLength: number;
}

function checkAdapterFits(adapter: LoraAdapter, shapes: Map<string, number[]>, directory: string): void {
  for (const target of adapter.targets.values()) {
    const shape = shapes.get(target.baseTensor);
    if (!shape) {
      throw new TraitlensError(
        'INVALID_ADAPTER',
        `${adapter.directory}: the adapter targets ${target.baseTensor}, which the base model in ${directory} does not have (supported targets: q/k/v/o/gate/up/down projections). Is it an adapter for another architecture?`,
        { details: { tensor: target.baseTensor } },
      );
    }
    if (shape[0] !== target.outFeatures || shape[1] !== target.inFeatures) {
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `${adapter.directory}: the adapter for ${target.baseTensor} is [${target.outFeatures} x ${target.inFeatures}] but the base weight is [${shape.join(' x ')}]. The adapter was trained for another base model${adapter.baseModel ? ` (${adapter.baseModel})` : ''}.`,
        { details: { tensor: target.baseTensor } },
      );
    }
  }
}

/**
 * Refuses weights holding NaN or infinity: they load without complaint and generate nothing (or NaN
 * logits) later. The check rides on the conversion pass: a float64 sum of a float32 chunk is finite
 * exactly when every value is (it cannot overflow), and only a failing chunk is scanned for the row.
 */
function assertFiniteWeights(
  values: Float32Array,
  columns: number,
  firstRow: number,
  describe: () => { code: 'INVALID_SAFETENSORS' | 'INVALID_ADAPTER'; what: string; fix: string },
): void {
  let sum = 0;
  for (let index = 0; index < values.length; index++) sum += values[index]!;
  if (Number.isFinite(sum)) return;
  let index = 0;
  while (index < values.length && Number.isFinite(values[index]!)) index++;
  const row = firstRow + Math.floor(index / Math.max(1, columns));
  const { code, what, fix } = describe();
  throw new TraitlensError(
    code,
    `${what} holds ${values[index]} (row ${row}, column ${index % Math.max(1, columns)}); weights must be finite. ${fix}`,
    { details: { row, value: String(values[index]) } },
  );
}

/**
 * Converts checkpoint tensors into one external data file in the graph's layout, streaming a block of
 * rows at a time (BF16/F16/F32 in; float32/float16 or int4/int8 codes out), so a 70B conversion holds at
 * most one chunk of one tensor in JS memory. LoRA is merged into the rows before quantization, or written
 * as low-rank branches for switchable mode. The build is resumable: progress is recorded after every
 * weight, and a restarted build truncates the file to the last complete weight and goes on.
 */
export async function writeExternalWeights(options: WriteExternalWeightsOptions): Promise<WeightManifest> {
  const { checkpoint, config, names, dataPath, quantization, lora } = options;
  const planned = planWeights(config, names, quantization);
  const shapes = expectedTensorShapes(config, names);
  await assertCheckpointShapes(checkpoint, config, shapes);
  if (lora) checkAdapterFits(lora.adapter, shapes, checkpoint.directory);

  const partialPath = `${dataPath}.partial`;
  const progressPath = `${dataPath}.progress.json`;
  const progress = await readBuildProgress(partialPath, progressPath);
  const handle = await open(partialPath, 'r+');
  try {
    await handle.truncate(progress.fileLength);
    const branchWeights =
      lora?.mode === 'switchable'
        ? planned.filter(
            (weight) => weight.matrix && weight.sources.some((source) => lora.adapter.targets.has(source)),
          )
        : [];
    const file = new WeightDataFile({
      handle,
      progress,
      progressPath,
      total: planned.length + branchWeights.length * 2,
      onProgress: options.onProgress,
    });
    const conversion: Conversion = { ...options, shapes, file };
    for (const weight of planned) await writePlannedWeight(conversion, weight);
    if (lora) for (const weight of branchWeights) await writeLoraBranches(conversion, lora, weight);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partialPath, dataPath);
  await rm(progressPath, { force: true });
  const manifest: WeightManifest = {
    dataFile: dataPath.replace(/^.*[\\/]/, ''),
    dtype: options.dtype,
    weights: progress.completed,
  };
  if (quantization) {
    manifest.quantization = { bits: quantization.bits, blockSize: quantization.blockSize };
    // Recorded only for symmetric blocks: asymmetric manifests stay as before.
    if (quantization.zeroPoints === false) manifest.quantization.zeroPoints = false;
  }
  if (lora) manifest.lora = { mode: lora.mode, hash: lora.adapter.hash };
  return manifest;
}

/** Every tensor the config implies is in the checkpoint, with the shape the config implies. */
async function assertCheckpointShapes(
  checkpoint: SafetensorsCheckpoint,
  config: ModelConfig,
  shapes: Map<string, number[]>,
): Promise<void> {
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
}

/** The recorded progress of an interrupted build, or a fresh start (an empty partial file). */
async function readBuildProgress(partialPath: string, progressPath: string): Promise<BuildProgress> {
  try {
    const progress = JSON.parse(await readFile(progressPath, 'utf8')) as BuildProgress;
    if ((await stat(partialPath)).size < progress.fileLength)
      throw new Error('partial file shorter than recorded progress');
    return progress;
  } catch {
    await writeFile(partialPath, new Uint8Array());
    return { completed: {}, fileLength: 0 };
  }
}

/** The partial data file being built: where the next weight goes, and the progress after each weight. */
class WeightDataFile {
  readonly handle: FileHandle;
  readonly progress: BuildProgress;
  private position: number;
  private done = 0;

  constructor(
    private readonly build: {
      handle: FileHandle;
      progress: BuildProgress;
      progressPath: string;
      /** Weights of the whole build, finished ones included. */
      total: number;
      onProgress: WriteExternalWeightsOptions['onProgress'];
    },
  ) {
    this.handle = build.handle;
    this.progress = build.progress;
    this.position = build.progress.fileLength;
  }

  /** Counts the next weight of the build; false when an earlier build finished it already. */
  next(name: string): boolean {
    this.done++;
    return this.progress.completed[name] === undefined;
  }

  /** A region for `length` bytes after the last one (page-aligned for large tensors, so ORT can map them). */
  reserve(length: number): ExternalRegion {
    const alignment = length >= pageSize ? pageSize : 64;
    this.position = Math.ceil(this.position / alignment) * alignment;
    const region = { offset: this.position, length };
    this.position += length;
    return region;
  }

  async write(bytes: Uint8Array, offset: number): Promise<void> {
    await this.handle.write(bytes, 0, bytes.byteLength, offset);
  }

  /** Records a finished weight in the progress file. */
  async record(name: string, weight: StoredWeight): Promise<void> {
    this.progress.completed[name] = weight;
    this.progress.fileLength = this.position;
    await writeJsonAtomic(this.build.progressPath, this.progress);
    this.build.onProgress?.({ done: this.done, total: this.build.total, weight: name });
  }
}

type Conversion = WriteExternalWeightsOptions & { shapes: Map<string, number[]>; file: WeightDataFile };

/** Where a weight's bytes go: its codes (or float values) and, when quantized, its scales and zero points. */
interface WeightRegions {
  codes: ExternalRegion;
  scales?: ExternalRegion;
  zeroPoints?: ExternalRegion | undefined;
}

function rowsOf(conversion: Conversion, source: string): number {
  const shape = conversion.shapes.get(source);
  if (!shape) throw new Error(`no expected shape for tensor ${source}`);
  return shape[0] ?? 1;
}

/** One planned weight, converted source by source and chunk by chunk, then recorded. */
async function writePlannedWeight(conversion: Conversion, weight: PlannedWeight): Promise<void> {
  const { file, quantization } = conversion;
  if (!file.next(weight.name)) return;
  const firstShape = conversion.shapes.get(weight.sources[0] ?? '') ?? [];
  const columns = firstShape.length > 1 ? (firstShape[1] ?? 1) : 1;
  const totalRows = weight.sources.reduce((sum, source) => sum + rowsOf(conversion, source), 0);
  const layout: ChunkLayout = {
    columns,
    matrix: firstShape.length > 1,
    quantization: weight.matrix ? quantization : undefined,
    regions: { codes: { offset: 0, length: 0 } },
  };
  const dims = layout.matrix ? [totalRows, columns] : [totalRows];
  let stored: StoredWeight;
  if (layout.quantization) {
    const { blockSize, bits } = layout.quantization;
    const blocks = blockCount(columns, blockSize);
    const codes = file.reserve(totalRows * blocks * ((blockSize * bits) / 8));
    // Scales share the activations' type (MatMulNBits needs A and scales alike): fp16 with fp16 compute.
    const scales = file.reserve(totalRows * blocks * elementBytesOf(conversion.dtype));
    // Symmetric blocks (zeroPoints: false) store none: MatMulNBits then reads its default zero point.
    const zeroPoints =
      layout.quantization.zeroPoints === false
        ? undefined
        : file.reserve(totalRows * Math.ceil((blocks * bits) / 8));
    layout.regions = { codes, scales, zeroPoints };
    stored = {
      dims,
      type: conversion.dtype,
      ...codes,
      quantization: { bits, blockSize, scales, zeroPoints },
    };
  } else {
    const codes = file.reserve(totalRows * columns * elementBytesOf(conversion.dtype));
    layout.regions = { codes };
    stored = { dims, type: conversion.dtype, ...codes };
  }
  let rowsWritten = 0;
  for (const source of weight.sources) {
    await writeSourceRows(conversion, { source, layout, rowsWritten });
    rowsWritten += rowsOf(conversion, source);
  }
  await file.record(weight.name, stored);
}

/** How a weight's rows are laid out in the file. */
interface ChunkLayout {
  columns: number;
  /** A 2-D tensor (read a block of rows at a time), not a vector. */
  matrix: boolean;
  /** Set when the weight is stored quantized. */
  quantization: QuantizationSettings | undefined;
  regions: WeightRegions;
}

/** One checkpoint tensor of a weight, a chunk of rows at a time, with a merged LoRA update if any. */
async function writeSourceRows(
  conversion: Conversion,
  part: { source: string; layout: ChunkLayout; rowsWritten: number },
): Promise<void> {
  const { checkpoint, lora } = conversion;
  const { source, layout } = part;
  const rows = rowsOf(conversion, source);
  const merge = lora?.mode === 'merged' ? lora.adapter.targets.get(source) : undefined;
  const rowsPerChunk = layout.matrix ? Math.max(1, Math.floor(chunkBytes / (layout.columns * 4))) : rows;
  for (let start = 0; start < rows; start += rowsPerChunk) {
    const end = Math.min(rows, start + rowsPerChunk);
    const values = layout.matrix
      ? Float32Array.from(await checkpoint.readRowsAsFloat32(source, start, end))
      : await checkpoint.readFloat32(source);
    assertFiniteWeights(values, layout.columns, start, () => ({
      code: 'INVALID_SAFETENSORS',
      what: `${checkpoint.directory}: tensor "${source}"`,
      fix: 'The checkpoint is corrupt or was saved after training diverged; re-download it or use another checkpoint.',
    }));
    if (lora && merge) {
      addLoraDelta(values, merge, { start, end });
      assertFiniteWeights(values, layout.columns, start, () => ({
        code: 'INVALID_ADAPTER',
        what: `${lora.adapter.directory}: the LoRA update of "${source}"`,
        fix: 'The adapter holds NaN or infinite values (diverged training?); use another adapter checkpoint.',
      }));
    }
    await writeChunk(conversion, {
      values,
      layout,
      chunkRows: end - start,
      rowStart: part.rowsWritten + start,
    });
  }
}

/** A converted chunk of rows at its place in the weight's regions: float values, or codes, scales and zero points. */
async function writeChunk(
  conversion: Conversion,
  chunk: { values: Float32Array; layout: ChunkLayout; chunkRows: number; rowStart: number },
): Promise<void> {
  const { file, dtype } = conversion;
  const { values, layout, chunkRows, rowStart } = chunk;
  const { regions } = layout;
  if (!layout.quantization) {
    const bytes =
      dtype === 'float32'
        ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
        : new Uint8Array(float32ArrayToFloat16(values).buffer);
    await file.write(bytes, regions.codes.offset + rowStart * layout.columns * elementBytesOf(dtype));
    return;
  }
  const q = quantizeBlockwise(values, chunkRows, layout.columns, layout.quantization);
  const scaleBytes = new Uint8Array(
    dtype === 'float32' ? q.scales.buffer : float32ArrayToFloat16(q.scales).buffer,
  );
  const at = (region: ExternalRegion | undefined, bytes: Uint8Array) =>
    (region?.offset ?? 0) + rowStart * (bytes.byteLength / chunkRows);
  await file.write(q.packed, at(regions.codes, q.packed));
  await file.write(scaleBytes, at(regions.scales, scaleBytes));
  if (q.zeroPoints) await file.write(q.zeroPoints, at(regions.zeroPoints, q.zeroPoints));
}

function elementBytesOf(dtype: StoredWeightType): number {
  return dtype === 'float32' ? 4 : 2;
}

/** Switchable LoRA: a fused matrix's low-rank branches as two more weights, `<name>.lora_a` and `.lora_b`. */
async function writeLoraBranches(
  conversion: Conversion,
  lora: NonNullable<WriteExternalWeightsOptions['lora']>,
  weight: PlannedWeight,
): Promise<void> {
  const { file, dtype } = conversion;
  const { a, b, totalRank, totalRows, columns } = stackLoraBranches(conversion, lora, weight);
  assertFiniteWeights(a, columns, 0, () => ({
    code: 'INVALID_ADAPTER',
    what: `${lora.adapter.directory}: lora_A of "${weight.sources.join(', ')}"`,
    fix: 'The adapter holds NaN or infinite values (diverged training?); use another adapter checkpoint.',
  }));
  assertFiniteWeights(b, totalRank, 0, () => ({
    code: 'INVALID_ADAPTER',
    what: `${lora.adapter.directory}: lora_B of "${weight.sources.join(', ')}"`,
    fix: 'The adapter holds NaN or infinite values (diverged training?); use another adapter checkpoint.',
  }));
  for (const [suffix, values, dims] of [
    ['lora_a', a, [totalRank, columns]],
    ['lora_b', b, [totalRows, totalRank]],
  ] as const) {
    const name = `${weight.name}.${suffix}`;
    if (!file.next(name)) continue;
    // Branches compute in the graph's compute type, like every other dense weight.
    const bytes =
      dtype === 'float32'
        ? new Uint8Array(values.buffer)
        : new Uint8Array(float32ArrayToFloat16(values).buffer);
    const region = file.reserve(bytes.byteLength);
    await file.write(bytes, region.offset);
    await file.record(name, { dims: [...dims], type: dtype, ...region });
  }
}

/**
 * Low-rank branches of a fused matrix: A stacks each part's A; B is block-diagonal with the LoRA
 * scaling folded in, zero rows for parts the adapter does not touch.
 */
function stackLoraBranches(
  conversion: Conversion,
  lora: NonNullable<WriteExternalWeightsOptions['lora']>,
  weight: PlannedWeight,
): { a: Float32Array; b: Float32Array; totalRank: number; totalRows: number; columns: number } {
  const parts = weight.sources.map((source) => ({
    rows: rowsOf(conversion, source),
    target: lora.adapter.targets.get(source),
  }));
  const columns = conversion.shapes.get(weight.sources[0] ?? '')?.[1] ?? 1;
  const totalRank = parts.reduce((sum, part) => sum + (part.target?.rank ?? 0), 0);
  const totalRows = parts.reduce((sum, part) => sum + part.rows, 0);
  const a = new Float32Array(totalRank * columns);
  const b = new Float32Array(totalRows * totalRank);
  let rankOffset = 0;
  let rowOffset = 0;
  for (const { rows, target } of parts) {
    if (target) {
      a.set(target.a, rankOffset * columns);
      for (let row = 0; row < rows; row++) {
        for (let r = 0; r < target.rank; r++)
          b[(rowOffset + row) * totalRank + rankOffset + r] =
            target.b[row * target.rank + r]! * target.scaling;
      }
      rankOffset += target.rank;
    }
    rowOffset += rows;
  }
  return { a, b, totalRank, totalRows, columns };
}
