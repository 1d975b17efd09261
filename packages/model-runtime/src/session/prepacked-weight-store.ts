import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, type FileHandle, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { withFileLock, writeFileAtomic, writeJsonAtomic } from '@traitlens/core';
import {
  ModelProtoSchema,
  type StringStringEntryProto,
  StringStringEntryProtoSchema,
  type TensorProto,
} from 'onnx-buf';

/**
 * Where one model's CPU sessions find their pre-packed weights, so that every hook plan's session maps
 * the same bytes instead of packing its own copy (docs/decisions/0015).
 *
 * ORT's CPU kernels (MatMulNBits, Gemm) "pre-pack" constant weights into a kernel-specific layout when a
 * session starts, in memory owned by that session: with one session per hook plan, every plan held its
 * own packed copy of every matrix. ORT can save an optimized model whose packed blobs sit in external
 * data (`session.save_external_prepacked_constant_initializers`) and, loading it, memory-maps them
 * instead of packing. This file turns that per-plan file into a shared one: every blob goes into one
 * content-addressed store per graph folder (`prepacked-<tag>.data`, appended to, never rewritten),
 * weights that ORT kept as they were point back into `weights.data`, and each plan's model keeps only
 * its graph. The page cache then holds each weight once however many plans are loaded.
 */

/** Identifies the ORT build and CPU the packed layouts were made for (they are not portable). */
export function prepackedStoreTag(ortVersion: string): string {
  const known = tags.get(ortVersion);
  if (known) return known;
  let flags = '';
  try {
    // Packed layouts depend on the instruction set ORT dispatched to (AVX2, AVX-512, VNNI, NEON...).
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    flags = /^(flags|Features)\s*:(.*)$/m.exec(info)?.[2]?.trim() ?? '';
  } catch {
    // No /proc (macOS, Windows): the CPU model name below stands for the instruction set.
  }
  const tag = createHash('sha256')
    .update(`${ortVersion}|${arch()}|${cpus()[0]?.model ?? ''}|${flags}`)
    .digest('hex')
    .slice(0, 12);
  tags.set(ortVersion, tag);
  return tag;
}
const tags = new Map<string, string>();

interface StoreIndex {
  version: 1;
  /** Bytes of the data file that the index covers; anything after it is a torn append and is cut off. */
  length: number;
  /** SHA-256 of a blob -> where it is in the data file. */
  blobs: Record<string, { offset: number; length: number }>;
}

interface Region {
  /** Path of the file holding the bytes. */
  file: string;
  offset: number;
  length: number;
}

export interface PrepackedModelPaths {
  /** The plan's model, referencing `weights.data` and the shared store. */
  model: string;
  /** The shared store's data file. */
  store: string;
}

/** The paths `preparePrepackedModel` writes for a graph (nothing is created). */
export function prepackedModelPaths(graphPath: string, tag: string): PrepackedModelPaths {
  return {
    model: graphPath.replace(/\.onnx$/, `.prepacked-${tag}.onnx`),
    store: join(dirname(graphPath), `prepacked-${tag}.data`),
  };
}

export interface PreparePrepackedModelOptions {
  /** From prepackedStoreTag. */
  tag: string;
  /**
   * Creates (and releases) a CPU session for `graphPath` that saves its optimized model to `outputPath`
   * with initializers, and their packed blobs, in `dataFileName` beside it.
   */
  saveOptimizedModel: (graphPath: string, outputPath: string, dataFileName: string) => Promise<void>;
}

/** In-process queue per store: appends from two plans of one process never interleave. */
const storeQueues = new Map<string, Promise<unknown>>();

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of a model for `graphPath` whose packed weights live in the shared store, made on first use
 * (one ORT save, a pass over its blobs) and found afterwards. Safe across processes (a lock per store)
 * and resumable: a store is only appended to, and its index is written after the data is on disk.
 */
export async function preparePrepackedModel(
  graphPath: string,
  options: PreparePrepackedModelOptions,
): Promise<string> {
  const paths = prepackedModelPaths(graphPath, options.tag);
  const ready = async () => (await exists(paths.model)) && (await exists(`${paths.store}.json`));
  if (await ready()) return paths.model;
  const previous = storeQueues.get(paths.store) ?? Promise.resolve();
  const next = previous
    .catch(() => undefined)
    .then(() =>
      withFileLock(
        `${paths.store}.lock`,
        { purpose: `pack weights for ${basename(graphPath)}`, waitMs: 30 * 60 * 1000 },
        async () => {
          if (!(await ready())) await buildPrepackedModel(graphPath, paths, options);
        },
      ),
    );
  storeQueues.set(paths.store, next);
  try {
    await next;
  } finally {
    if (storeQueues.get(paths.store) === next) storeQueues.delete(paths.store);
  }
  return paths.model;
}

/** Reads external-data entries into a map. */
function entriesOf(tensor: TensorProto): Map<string, string> {
  return new Map(tensor.externalData.map((entry: StringStringEntryProto) => [entry.key, entry.value]));
}

async function buildPrepackedModel(
  graphPath: string,
  paths: PrepackedModelPaths,
  options: PreparePrepackedModelOptions,
): Promise<void> {
  const directory = dirname(graphPath);
  const scratch = `${paths.model}.${process.pid}.partial`;
  const scratchData = `${basename(scratch)}.data`;
  try {
    await options.saveOptimizedModel(graphPath, scratch, scratchData);
    const optimized = fromBinary(ModelProtoSchema, await readFile(scratch));
    // The plan graph's own initializers: name -> region of weights.data.
    const original = new Map<string, Region>();
    for (const tensor of fromBinary(ModelProtoSchema, await readFile(graphPath)).graph?.initializer ?? []) {
      const entries = entriesOf(tensor);
      const location = entries.get('location');
      if (location)
        original.set(tensor.name, {
          file: join(directory, location),
          offset: Number(entries.get('offset') ?? 0),
          length: Number(entries.get('length') ?? 0),
        });
    }
    const index = await openStoreIndex(paths.store, options.tag);
    const store = await open(paths.store, 'r+');
    const source = await open(join(directory, scratchData), 'r');
    const handles = new Map<string, FileHandle>();
    try {
      const storeName = basename(paths.store);
      for (const tensor of optimized.graph?.initializer ?? []) {
        const entries = entriesOf(tensor);
        if (!entries.has('location')) continue;
        const main = {
          offset: Number(entries.get('offset') ?? 0),
          length: Number(entries.get('length') ?? 0),
        };
        const mainHash = await hashRegion(source, main.offset, main.length);
        // Packed blobs are read through their initializer's file, so a packed weight lives in the store
        // whole; a weight ORT uses as it is points back into the plan graph's own file when unchanged.
        const packed = [...entries.keys()].some((key) => key.startsWith('prepacked_'));
        const before = original.get(tensor.name);
        let location: { file: string; offset: number } | undefined;
        if (!packed && before && before.length === main.length) {
          let handle = handles.get(before.file);
          if (!handle) {
            handle = await open(before.file, 'r');
            handles.set(before.file, handle);
          }
          if ((await hashRegion(handle, before.offset, before.length)) === mainHash)
            location = { file: basename(before.file), offset: before.offset };
        }
        location ??= {
          file: storeName,
          offset: await storeBlob({ index, file: store }, { source, region: main, hash: mainHash }),
        };
        const rewritten: Array<[string, string]> = [];
        for (const [key, value] of entries) {
          if (key === 'location') rewritten.push([key, location.file]);
          else if (key === 'offset') rewritten.push([key, String(location.offset)]);
          else if (key.startsWith('prepacked_')) {
            // `<kernel key>|<offset>;<length>;<checksum>|...` (ORT's ExternalDataInfo format).
            const [kernelKey, ...blobs] = value.split('|');
            const moved: string[] = [];
            for (const blob of blobs) {
              const [offset, length, checksum] = blob.split(';');
              const region = { offset: Number(offset), length: Number(length) };
              const hash = await hashRegion(source, region.offset, region.length);
              moved.push(
                `${await storeBlob({ index, file: store }, { source, region, hash })};${length};${checksum ?? '0'}`,
              );
            }
            rewritten.push([key, [kernelKey, ...moved].join('|')]);
          } else rewritten.push([key, value]);
        }
        tensor.externalData = rewritten.map(([key, value]) =>
          create(StringStringEntryProtoSchema, { key, value }),
        );
      }
      await store.sync();
      index.length = (await store.stat()).size;
      await writeJsonAtomic(`${paths.store}.json`, index);
    } finally {
      await source.close();
      await store.close();
      for (const handle of handles.values()) await handle.close();
    }
    await writeFileAtomic(paths.model, toBinary(ModelProtoSchema, optimized));
  } finally {
    await rm(scratch, { force: true });
    await rm(join(directory, scratchData), { force: true });
  }
}

/**
 * The store's index; a data file longer than the index says (a torn append) is cut back to it. A store
 * that lost data (shorter than its index, or no index) starts over, and the plan models pointing into
 * it are removed so they are rebuilt.
 */
async function openStoreIndex(storePath: string, tag: string): Promise<StoreIndex> {
  let index: StoreIndex = { version: 1, length: 0, blobs: {} };
  try {
    const parsed = JSON.parse(await readFile(`${storePath}.json`, 'utf8')) as StoreIndex;
    if (parsed.version === 1) index = parsed;
  } catch {
    // No index yet: a new store.
  }
  await (await open(storePath, 'a')).close();
  const size = await stat(storePath).then(
    (info) => info.size,
    () => 0,
  );
  if (size < index.length || index.length === 0) {
    index = { version: 1, length: 0, blobs: {} };
    const directory = dirname(storePath);
    for (const name of await readdir(directory))
      if (name.endsWith(`.prepacked-${tag}.onnx`)) await rm(join(directory, name), { force: true });
  }
  if (size !== index.length) {
    const handle = await open(storePath, 'r+');
    try {
      await handle.truncate(index.length);
    } finally {
      await handle.close();
    }
  }
  return index;
}

const chunkBytes = 16 * 1024 * 1024;

async function hashRegion(handle: FileHandle, offset: number, length: number): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(1, length)));
  for (let done = 0; done < length; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - done), offset + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${offset + done}`);
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  return `${hash.digest('hex')}:${length}`;
}

/** The blob's offset in the store, appending it (page-aligned when large, so it can be mapped) if new. */
async function storeBlob(
  target: { index: StoreIndex; file: FileHandle },
  blob: { source: FileHandle; region: { offset: number; length: number }; hash: string },
): Promise<number> {
  const { index, file: store } = target;
  const { source, region, hash } = blob;
  const known = index.blobs[hash];
  if (known) return known.offset;
  const size = (await store.stat()).size;
  const alignment = region.length >= 4096 ? 4096 : 64;
  const offset = Math.ceil(size / alignment) * alignment;
  if (offset > size) await store.write(new Uint8Array(offset - size), 0, offset - size, size);
  const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(1, region.length)));
  for (let done = 0; done < region.length; ) {
    const { bytesRead } = await source.read(
      buffer,
      0,
      Math.min(buffer.length, region.length - done),
      region.offset + done,
    );
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${region.offset + done}`);
    await store.write(buffer, 0, bytesRead, offset + done);
    done += bytesRead;
  }
  index.blobs[hash] = { offset, length: region.length };
  return offset;
}
