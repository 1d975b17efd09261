import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError, withFileSystemErrors } from '@traitlens/core';
import type { StoredWeightType } from '../weights/weight-manifest';

/**
 * Bumped when the converted weights' layout changes (not when only the graph does: graphs are rebuilt
 * from `decoderGraphVersion` without converting the weights again). Graph version 5 was the last one
 * that also keyed the weights.
 */
const weightsFormatVersion = 5;

/** Checkpoints up to this total size are hashed in full; larger ones by header, samples and modification. */
export const fullHashLimit = 512 * 1024 * 1024;

/** Bytes hashed at each of the start, middle and end of a large shard's tensor data. */
export const sampleWindowBytes = 4 * 1024 * 1024;

async function hashWholeFile(path: string, hash: Hash): Promise<void> {
  await withFileSystemErrors({ path, action: 'read' }, async () => {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  });
}

/** Reads exactly `length` bytes at `position` (a positioned read: nothing else of the file is loaded). */
async function readExactly(
  handle: FileHandle,
  position: number,
  length: number,
  path: string,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0)
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${path} ended after ${position + filled} bytes while ${position + length} were expected: the file is truncated; download it again`,
        { details: { file: path, expected: position + length, actual: position + filled } },
      );
    filled += bytesRead;
  }
  return buffer;
}

/**
 * Hashes a large shard by what identifies it without reading it all: the 8-byte header length, the JSON
 * header (names, dtypes, shapes, offsets), a window at the start, middle and end of the tensor data, and
 * the modification time (a re-download or edit in place changes it).
 */
async function hashShardSample(path: string, size: number, mtimeMs: number, hash: Hash): Promise<void> {
  await withFileSystemErrors({ path, action: 'read' }, async () => {
    const handle = await open(path, 'r');
    try {
      if (size < 8)
        throw new TraitlensError(
          'INVALID_SAFETENSORS',
          `${path} has ${size} bytes, fewer than the 8-byte safetensors header length: download it again`,
          { details: { file: path, size } },
        );
      const lengthBytes = await readExactly(handle, 0, 8, path);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength > size - 8)
        throw new TraitlensError(
          'INVALID_SAFETENSORS',
          `${path} declares a ${headerLength}-byte header but has only ${size - 8} bytes after the length field: the file is truncated or not safetensors`,
          { details: { file: path, headerLength, size } },
        );
      hash.update(lengthBytes);
      hash.update(await readExactly(handle, 8, headerLength, path));
      const dataStart = 8 + headerLength;
      const dataLength = size - dataStart;
      const window = Math.min(sampleWindowBytes, dataLength);
      const starts = [dataStart, dataStart + Math.floor((dataLength - window) / 2), size - window];
      for (const start of starts) hash.update(await readExactly(handle, start, window, path));
      hash.update(`mtime=${mtimeMs}\n`);
    } finally {
      await handle.close();
    }
  });
}

/**
 * A content key for the converted weights: config.json, every safetensors file's name and size, and
 * either the full bytes (checkpoints up to {@link fullHashLimit} in total) or, for larger ones, each
 * shard's header, three data windows and modification time, read with positioned reads so a 5 GB shard
 * costs 12 MB of I/O. Any read failure is an error, never a weaker key. Hub snapshots are additionally
 * pinned by their commit sha in the directory name.
 */
export async function computeWeightsKey(
  directory: string,
  dtype: StoredWeightType,
  extra: string,
): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`traitlens-weights-v${weightsFormatVersion};dtype=${dtype};${extra}\n`);
  const configPath = join(directory, 'config.json');
  hash.update(await withFileSystemErrors({ path: configPath, action: 'read' }, () => readFile(configPath)));
  const files = (await withFileSystemErrors({ path: directory, action: 'list' }, () => readdir(directory)))
    .filter((name) => name.endsWith('.safetensors') || name.endsWith('.safetensors.index.json'))
    .sort();
  const infos = await Promise.all(
    files.map((file) => {
      const path = join(directory, file);
      return withFileSystemErrors({ path, action: 'read the size of' }, () => stat(path));
    }),
  );
  const total = infos.reduce((sum, info) => sum + info.size, 0);
  for (const [index, file] of files.entries()) {
    const path = join(directory, file);
    const info = infos[index]!;
    hash.update(`${file}:${info.size}\n`);
    if (total <= fullHashLimit || file.endsWith('.index.json')) await hashWholeFile(path, hash);
    else await hashShardSample(path, info.size, info.mtimeMs, hash);
  }
  return hash.digest('hex').slice(0, 32);
}
