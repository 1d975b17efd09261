import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  formatHookPoint,
  type HookPoint,
  type HookSite,
  SafetensorsFile,
  type SafetensorsTensorInput,
  TraitlensError,
  writeSafetensors,
} from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import type { Matrix } from '../numeric/matrix';
import type { TraitPolarity } from './extraction-progress';
import { formatResponseRecordId, type ResponseRecord } from './response-record';
import { formatTokenWindowSlug, resolveTokenWindow, type TokenWindow } from './token-window';
import {
  type ActivationRowSource,
  type ClassWindowActivations,
  readWindowActivations,
  readWindowActivationsKey,
  type WindowActivations,
  writeWindowActivations,
} from './window-activations';

export interface CaptureWindowActivationsOptions {
  model: LanguageModel;
  records: Readonly<Record<TraitPolarity, readonly ResponseRecord[]>>;
  layers: readonly number[];
  sites: readonly HookSite[];
  window: TokenWindow;
  /** Sequences per forward pass. */
  batchSize: number;
  /** The trait's activations/ folder. */
  directory: string;
  key: string;
  force?: boolean;
  /** Upper bound on captured floats copied out of one forward pass (bytes); layers are split across passes above it. */
  maxCaptureBytes?: number;
  onProgress?: (completed: number, total: number, skipped: boolean) => void;
}

export interface CapturedWindowActivations {
  bySite: Map<HookSite, WindowActivations>;
  skipped: boolean;
}

/** Where the final file of a site lives. */
export function windowActivationsPath(directory: string, site: HookSite, window: TokenWindow): string {
  return join(directory, site, `${formatTokenWindowSlug(window)}.safetensors`);
}

const defaultMaxCaptureBytes = 1 << 30;

/**
 * One forward pass per batch over the stored prompt + response token ids (never re-tokenised), reading
 * the chosen sites at the chosen layers and averaging each over the token window. Each batch is saved
 * as a shard, so an interrupted run resumes; the shards are merged into one file per site at the end.
 */
export async function captureWindowActivations(
  options: CaptureWindowActivationsOptions,
): Promise<CapturedWindowActivations> {
  const finalPaths = new Map(
    options.sites.map(
      (site) => [site, windowActivationsPath(options.directory, site, options.window)] as const,
    ),
  );
  if (!options.force) {
    const reused = await readFinishedActivations(options, finalPaths);
    if (reused) return reused;
  }
  const partialDirectory = await preparePartialDirectory(options);
  const points: HookPoint[] = options.sites.flatMap((site) =>
    options.layers.map((layer) => ({ site, layer })),
  );
  const shards = await captureShards(options, { partialDirectory, points });
  const merged = await mergeShards({ partialDirectory, shards, points });
  const bySite = new Map<HookSite, WindowActivations>();
  for (const [site, path] of finalPaths) {
    const activations = siteWindowActivations(options, merged, site);
    await writeWindowActivations(path, activations);
    bySite.set(site, activations);
  }
  await rm(partialDirectory, { recursive: true, force: true });
  // The staging parent goes too once empty (another window's staging keeps it).
  await rmdir(dirname(partialDirectory)).catch(() => undefined);
  return { bySite, skipped: false };
}

/** The final files of every site, when all of them were made from the same inputs key. */
async function readFinishedActivations(
  options: CaptureWindowActivationsOptions,
  finalPaths: ReadonlyMap<HookSite, string>,
): Promise<CapturedWindowActivations | undefined> {
  const keys = await Promise.all([...finalPaths.values()].map((path) => readWindowActivationsKey(path)));
  if (!keys.every((key) => key === options.key)) return undefined;
  const bySite = new Map<HookSite, WindowActivations>();
  for (const [site, path] of finalPaths) bySite.set(site, await readWindowActivations(path));
  const total = options.records.positive.length + options.records.negative.length;
  options.onProgress?.(total, total, true);
  return { bySite, skipped: true };
}

/**
 * The staging folder of these inputs (`.partial/<window>-<key>`), emptied with `force`. Staging of this
 * window for other inputs (other layers, records or model) can never be finished now; the caller holds the
 * trait's lock, so no live process is using it.
 */
async function preparePartialDirectory(options: CaptureWindowActivationsOptions): Promise<string> {
  const slug = `${formatTokenWindowSlug(options.window)}-`;
  const partialDirectory = join(options.directory, '.partial', `${slug}${options.key}`);
  if (options.force) await rm(partialDirectory, { recursive: true, force: true });
  for (const name of await readdir(dirname(partialDirectory)).catch(() => [] as string[]))
    if (name.startsWith(slug) && join(dirname(partialDirectory), name) !== partialDirectory)
      await rm(join(dirname(partialDirectory), name), { recursive: true, force: true });
  await mkdir(partialDirectory, { recursive: true });
  return partialDirectory;
}

/** One shard file per batch of each class; shards already in the staging folder are kept. */
async function captureShards(
  options: CaptureWindowActivationsOptions,
  staging: { partialDirectory: string; points: readonly HookPoint[] },
): Promise<Record<TraitPolarity, string[]>> {
  const { partialDirectory, points } = staging;
  const finished = new Set(await readdir(partialDirectory));
  const total = options.records.positive.length + options.records.negative.length;
  let completed = 0;
  options.onProgress?.(0, total, false);
  const shards: Record<TraitPolarity, string[]> = { positive: [], negative: [] };
  for (const polarity of ['positive', 'negative'] as const) {
    const records = options.records[polarity];
    for (let start = 0; start < records.length; start += options.batchSize) {
      const batch = records.slice(start, start + options.batchSize);
      const shardName = `${polarity}-${String(start).padStart(6, '0')}.safetensors`;
      shards[polarity].push(shardName);
      if (!finished.has(shardName)) {
        const captured = await captureBatch({
          model: options.model,
          batch,
          points,
          window: options.window,
          maxCaptureBytes: options.maxCaptureBytes ?? defaultMaxCaptureBytes,
        });
        await writeShard(join(partialDirectory, shardName), captured);
      }
      completed += batch.length;
      options.onProgress?.(completed, total, false);
    }
  }
  return shards;
}

/** Each class's rows and per-point pieces, in shard order, and every dropped sample. */
interface MergedShards {
  classes: Record<TraitPolarity, { rows: ActivationRowSource[]; data: Map<string, Float32Array[]> }>;
  dropped: string[];
}

async function mergeShards(staging: {
  partialDirectory: string;
  shards: Readonly<Record<TraitPolarity, readonly string[]>>;
  points: readonly HookPoint[];
}): Promise<MergedShards> {
  const merged: MergedShards = {
    classes: { positive: { rows: [], data: new Map() }, negative: { rows: [], data: new Map() } },
    dropped: [],
  };
  for (const polarity of ['positive', 'negative'] as const) {
    const part = merged.classes[polarity];
    for (const shardName of staging.shards[polarity]) {
      const shard = await readShard(join(staging.partialDirectory, shardName), staging.points);
      part.rows.push(...shard.rows);
      merged.dropped.push(...shard.dropped);
      for (const [name, data] of shard.data) {
        const list = part.data.get(name) ?? [];
        list.push(data);
        part.data.set(name, list);
      }
    }
  }
  return merged;
}

/** One site's file: per class, a [rows, hidden] matrix per layer from the concatenated shard pieces. */
function siteWindowActivations(
  options: CaptureWindowActivationsOptions,
  merged: MergedShards,
  site: HookSite,
): WindowActivations {
  const hiddenSize = options.model.config.hiddenSize;
  const toClass = (polarity: TraitPolarity): ClassWindowActivations => {
    const part = merged.classes[polarity];
    const matrices = new Map<number, Matrix>();
    for (const layer of options.layers) {
      const pieces = part.data.get(formatHookPoint({ site, layer })) ?? [];
      const data = new Float32Array(part.rows.length * hiddenSize);
      let offset = 0;
      for (const piece of pieces) {
        data.set(piece, offset);
        offset += piece.length;
      }
      matrices.set(layer, { rows: part.rows.length, columns: hiddenSize, data });
    }
    return { rows: part.rows, layers: matrices };
  };
  return {
    site,
    tokenWindow: options.window.text,
    model: options.model.id,
    hiddenSize,
    layers: [...options.layers],
    key: options.key,
    dropped: merged.dropped,
    positive: toClass('positive'),
    negative: toClass('negative'),
  };
}

interface CapturedBatch {
  rows: ActivationRowSource[];
  dropped: string[];
  /** `{site}.{layer}` -> [rows, D] */
  data: Map<string, Float32Array>;
}

interface CaptureBatchOptions {
  model: LanguageModel;
  batch: readonly ResponseRecord[];
  points: readonly HookPoint[];
  window: TokenWindow;
  /** Points are split across passes so that one pass copies at most this many bytes out of the graph. */
  maxCaptureBytes: number;
}

/** A record with at least one token in the window, and the window's positions in its ids. */
interface WindowedRecord {
  record: ResponseRecord;
  ids: number[];
  range: { start: number; end: number };
}

/** Forward passes over one batch, each point averaged over every kept record's window. */
async function captureBatch(options: CaptureBatchOptions): Promise<CapturedBatch> {
  const { model, batch, points, window } = options;
  const hiddenSize = model.config.hiddenSize;
  const kept: WindowedRecord[] = [];
  const dropped: string[] = [];
  for (const record of batch) {
    const range = resolveTokenWindow(window, record.promptTokenIds.length, record.responseTokenIds.length);
    if (range.end > range.start)
      kept.push({ record, ids: [...record.promptTokenIds, ...record.responseTokenIds], range });
    else dropped.push(formatResponseRecordId(record));
  }
  const rows = kept.map(({ record }) => ({ promptIndex: record.promptIndex, rollout: record.rollout }));
  const data = new Map<string, Float32Array>(
    points.map((point) => [formatHookPoint(point), new Float32Array(kept.length * hiddenSize)]),
  );
  if (kept.length === 0) return { rows, dropped, data };
  const inputs = kept.map(({ ids }) => ids);
  const tokens = inputs.reduce((sum, ids) => sum + ids.length, 0);
  const pointsPerPass = Math.max(1, Math.floor(options.maxCaptureBytes / (4 * hiddenSize * tokens)));
  for (let first = 0; first < points.length; first += pointsPerPass) {
    const group = points.slice(first, first + pointsPerPass);
    const results = await model.forward(inputs, { capture: group, logits: 'none' });
    for (const [row, { ids, range }] of kept.entries()) {
      const captures = results[row]?.captures;
      for (const point of group) {
        const name = formatHookPoint(point);
        const capture = captures?.get(name);
        if (!capture || capture.length !== ids.length * hiddenSize) {
          throw new TraitlensError(
            'RUNTIME_ERROR',
            `The model returned ${capture ? capture.length / hiddenSize : 'no'} positions for ${name}, expected ${ids.length} (prompt + response).`,
          );
        }
        const out = data.get(name);
        if (out) addWindowMean(out, capture, { row, range, hiddenSize });
      }
    }
  }
  return { rows, dropped, data };
}

/** Writes the mean of the window's positions of `capture` into row `row` of `out` (float32 sums, as stored). */
function addWindowMean(
  out: Float32Array,
  capture: Float32Array,
  at: { row: number; range: { start: number; end: number }; hiddenSize: number },
): void {
  const { row, range, hiddenSize } = at;
  const offset = row * hiddenSize;
  for (let position = range.start; position < range.end; position++) {
    const source = position * hiddenSize;
    for (let i = 0; i < hiddenSize; i++) out[offset + i]! += capture[source + i]!;
  }
  const count = range.end - range.start;
  for (let i = 0; i < hiddenSize; i++) out[offset + i]! /= count;
}

async function writeShard(path: string, batch: CapturedBatch): Promise<void> {
  const ids = new Int32Array(batch.rows.length * 2);
  batch.rows.forEach((row, index) => {
    ids[index * 2] = row.promptIndex;
    ids[index * 2 + 1] = row.rollout;
  });
  const tensors: Record<string, SafetensorsTensorInput> = {
    rows: { dtype: 'I32', shape: [batch.rows.length, 2], data: ids },
  };
  for (const [name, data] of batch.data)
    tensors[name] = {
      dtype: 'F32',
      shape: [batch.rows.length, data.length / Math.max(1, batch.rows.length)],
      data,
    };
  await writeSafetensors(path, tensors, { dropped: JSON.stringify(batch.dropped) });
}

async function readShard(path: string, points: readonly HookPoint[]): Promise<CapturedBatch> {
  const file = await SafetensorsFile.open(path);
  try {
    const ids = await file.readFloat32('rows');
    const rows: ActivationRowSource[] = [];
    for (let i = 0; i < ids.length; i += 2) rows.push({ promptIndex: ids[i]!, rollout: ids[i + 1]! });
    const data = new Map<string, Float32Array>();
    for (const point of points) {
      const name = formatHookPoint(point);
      const values = await file.readFloat32(name);
      data.set(name, values instanceof Float32Array ? values : Float32Array.from(values));
    }
    return { rows, dropped: JSON.parse(file.metadata.dropped ?? '[]') as string[], data };
  } finally {
    await file.close();
  }
}
