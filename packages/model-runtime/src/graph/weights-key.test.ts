import { mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { afterEach, describe, expect, it } from 'vitest';
import { computeWeightsKey, fullHashLimit, sampleWindowBytes } from './weights-key';

const folders: string[] = [];

async function checkpointFolder(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'traitlens-weights-key-'));
  folders.push(directory);
  await writeFile(join(directory, 'config.json'), '{"model_type":"llama"}');
  return directory;
}

/** A safetensors shard whose data is a hole of `size` bytes in total: sparse, so it costs no disk. */
async function writeSparseShard(path: string, size: number): Promise<number> {
  const header = Buffer.from(
    JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).padEnd(64, ' '),
  );
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  await writeFile(path, Buffer.concat([length, header]));
  await truncate(path, size);
  return 8 + header.length;
}

async function writeAt(path: string, position: number, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, position);
  } finally {
    await handle.close();
  }
}

afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

describe('computeWeightsKey', () => {
  it('keys a shard above 2 GiB by positioned reads, and sees changes in the header and each data window', async () => {
    const directory = await checkpointFolder();
    const shard = join(directory, 'model.safetensors');
    const size = 2 * 1024 ** 3 + 123_457; // above the 2 GiB a whole-file read can hold
    expect(size).toBeGreaterThan(fullHashLimit);
    const dataStart = await writeSparseShard(shard, size);
    const key = await computeWeightsKey(directory, 'float32', 'x');
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(await computeWeightsKey(directory, 'float32', 'x')).toBe(key);
    expect(await computeWeightsKey(directory, 'float16', 'x')).not.toBe(key);

    // A byte changed in each hashed window changes the key (mtime is pinned back to isolate the content).
    const { utimes, stat } = await import('node:fs/promises');
    const { atime, mtime } = await stat(shard);
    const middle = dataStart + Math.floor((size - dataStart - sampleWindowBytes) / 2) + 10;
    const keys = new Set([key]);
    for (const position of [dataStart + 1, middle, size - 2, 20]) {
      await writeAt(shard, position, Buffer.from([0x5a]));
      await utimes(shard, atime, mtime);
      keys.add(await computeWeightsKey(directory, 'float32', 'x'));
    }
    expect(keys.size).toBe(5);

    // Touching the file (a re-download in place) changes the key too.
    await utimes(shard, atime, new Date(mtime.getTime() + 5000));
    expect(keys.has(await computeWeightsKey(directory, 'float32', 'x'))).toBe(false);
  });

  it('hashes small checkpoints in full, so a change anywhere changes the key', async () => {
    const directory = await checkpointFolder();
    const shard = join(directory, 'model.safetensors');
    const dataStart = await writeSparseShard(shard, 40 * 1024 * 1024);
    const before = await computeWeightsKey(directory, 'float32', '');
    // Outside every sampling window: only a full hash notices.
    await writeAt(shard, dataStart + sampleWindowBytes + 1000, Buffer.from([1]));
    expect(await computeWeightsKey(directory, 'float32', '')).not.toBe(before);
  });

  it('fails with a TraitlensError instead of falling back to a weaker key', async () => {
    const truncated = await checkpointFolder();
    const shard = join(truncated, 'model-00001-of-00001.safetensors');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(10 * 1024 ** 3)); // a header longer than the file
    await writeFile(shard, length);
    await truncate(shard, fullHashLimit + 1);
    const error = await computeWeightsKey(truncated, 'float32', '').catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_SAFETENSORS')).toBe(true);
    expect((error as Error).message).toContain(shard);

    const dangling = await checkpointFolder();
    await writeSparseShard(join(dangling, 'a.safetensors'), fullHashLimit + 1);
    await symlink(join(dangling, 'missing-blob'), join(dangling, 'b.safetensors'));
    const missing = await computeWeightsKey(dangling, 'float32', '').catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(missing, 'FILE_NOT_FOUND')).toBe(true);
    expect((missing as Error).message).toContain('b.safetensors');
  });
});
