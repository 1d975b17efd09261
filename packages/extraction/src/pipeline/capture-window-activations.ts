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
  const { model, window, layers, sites } = options;
  const finalPaths = new Map(
    sites.map((site) => [site, windowActivationsPath(options.directory, site, window)] as const),
  );
  if (!options.force) {
    const keys = await Promise.all([...finalPaths.values()].map((path) => readWindowActivationsKey(path)));
    if (keys.every((key) => key === options.key)) {
      const bySite = new Map<HookSite, WindowActivations>();
      for (const [site, path] of finalPaths) bySite.set(site, await readWindowActivations(path));
      const total = options.records.positive.length + options.records.negative.length;
      options.onProgress?.(total, total, true);
      return { bySite, skipped: true };
    }
  }
  const partialDirectory = join(
    options.directory,
    '.partial',
    `${formatTokenWindowSlug(window)}-${options.key}`,
  );
  if (options.force) await rm(partialDirectory, { recursive: true, force: true });
  // Staging of this window for other inputs (other layers, records or model) can never be finished now;
  // the caller holds the trait's lock, so no live process is using it.
  const slug = `${formatTokenWindowSlug(window)}-`;
  for (const name of await readdir(dirname(partialDirectory)).catch(() => [] as string[]))
    if (name.startsWith(slug) && join(dirname(partialDirectory), name) !== partialDirectory)
      await rm(join(dirname(partialDirectory), name), { recursive: true, force: true });
  await mkdir(partialDirectory, { recursive: true });
  const finished = new Set(await readdir(partialDirectory));
  const points: HookPoint[] = sites.flatMap((site) => layers.map((layer) => ({ site, layer })));
  const hiddenSize = model.config.hiddenSize;
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
        await writeShard(
          join(partialDirectory, shardName),
          await captureBatch(
            model,
            batch,
            points,
            window,
            hiddenSize,
            options.maxCaptureBytes ?? defaultMaxCaptureBytes,
          ),
        );
      }
      completed += batch.length;
      options.onProgress?.(completed, total, false);
    }
  }
  const bySite = new Map<HookSite, WindowActivations>();
  const dropped: string[] = [];
  const merged: Record<TraitPolarity, { rows: ActivationRowSource[]; data: Map<string, Float32Array[]> }> = {
    positive: { rows: [], data: new Map() },
    negative: { rows: [], data: new Map() },
  };
  for (const polarity of ['positive', 'negative'] as const) {
    for (const shardName of shards[polarity]) {
      const shard = await readShard(join(partialDirectory, shardName), points);
      merged[polarity].rows.push(...shard.rows);
      dropped.push(...shard.dropped);
      for (const [name, data] of shard.data) {
        const list = merged[polarity].data.get(name) ?? [];
        list.push(data);
        merged[polarity].data.set(name, list);
      }
    }
  }
  for (const site of sites) {
    const toClass = (polarity: TraitPolarity): ClassWindowActivations => {
      const part = merged[polarity];
      const matrices = new Map<number, Matrix>();
      for (const layer of layers) {
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
    const activations: WindowActivations = {
      site,
      tokenWindow: window.text,
      model: model.id,
      hiddenSize,
      layers: [...layers],
      key: options.key,
      dropped,
      positive: toClass('positive'),
      negative: toClass('negative'),
    };
    await writeWindowActivations(finalPaths.get(site)!, activations);
    bySite.set(site, activations);
  }
  await rm(partialDirectory, { recursive: true, force: true });
  // The staging parent goes too once empty (another window's staging keeps it).
  await rmdir(dirname(partialDirectory)).catch(() => undefined);
  return { bySite, skipped: false };
}

interface CapturedBatch {
  rows: ActivationRowSource[];
  dropped: string[];
  /** `{site}.{layer}` -> [rows, D] */
  data: Map<string, Float32Array>;
}

async function captureBatch(
  model: LanguageModel,
  batch: readonly ResponseRecord[],
  points: readonly HookPoint[],
  window: TokenWindow,
  hiddenSize: number,
  maxCaptureBytes: number,
): Promise<CapturedBatch> {
  const ranges = batch.map((record) =>
    resolveTokenWindow(window, record.promptTokenIds.length, record.responseTokenIds.length),
  );
  const kept = batch.map((_, index) => index).filter((index) => ranges[index]!.end > ranges[index]!.start);
  const rows = kept.map((index) => ({
    promptIndex: batch[index]!.promptIndex,
    rollout: batch[index]!.rollout,
  }));
  const dropped = batch.filter((_, index) => !kept.includes(index)).map(formatResponseRecordId);
  const data = new Map<string, Float32Array>(
    points.map((point) => [formatHookPoint(point), new Float32Array(kept.length * hiddenSize)]),
  );
  if (kept.length === 0) return { rows, dropped, data };
  const inputs = kept.map((index) => [...batch[index]!.promptTokenIds, ...batch[index]!.responseTokenIds]);
  const tokens = inputs.reduce((sum, ids) => sum + ids.length, 0);
  const pointsPerPass = Math.max(1, Math.floor(maxCaptureBytes / (4 * hiddenSize * tokens)));
  for (let first = 0; first < points.length; first += pointsPerPass) {
    const group = points.slice(first, first + pointsPerPass);
    const results = await model.forward(inputs, { capture: group, logits: 'none' });
    results.forEach((result, row) => {
      const length = inputs[row]!.length;
      const { start, end } = ranges[kept[row]!]!;
      for (const point of group) {
        const name = formatHookPoint(point);
        const capture = result.captures.get(name);
        if (!capture || capture.length !== length * hiddenSize) {
          throw new TraitlensError(
            'RUNTIME_ERROR',
            `The model returned ${capture ? capture.length / hiddenSize : 'no'} positions for ${name}, expected ${length} (prompt + response).`,
          );
        }
        const out = data.get(name)!;
        const offset = row * hiddenSize;
        for (let position = start; position < end; position++) {
          const source = position * hiddenSize;
          for (let i = 0; i < hiddenSize; i++) out[offset + i]! += capture[source + i]!;
        }
        const count = end - start;
        for (let i = 0; i < hiddenSize; i++) out[offset + i]! /= count;
      }
    });
  }
  return { rows, dropped, data };
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
