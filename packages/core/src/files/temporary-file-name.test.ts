import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostTag } from './process-identity';
import { parseTemporaryFileName, removeStaleTemporaryFiles, temporaryFileName } from './temporary-file-name';

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('temporary files of dead writers', () => {
  it('names temporary files after the writer and parses them back', () => {
    const name = temporaryFileName('vectors.safetensors', 'abcd0123');
    expect(parseTemporaryFileName(name)).toEqual({
      target: 'vectors.safetensors',
      pid: process.pid,
      hostTag: hostTag(),
    });
    expect(parseTemporaryFileName('results.json.1234.deadbeef.partial')).toEqual({
      target: 'results.json',
      pid: 1234,
      hostTag: undefined,
    });
    expect(parseTemporaryFileName('results.json')).toBeUndefined();
    expect(parseTemporaryFileName('model.onnx.data.partial')).toBeUndefined();
  });

  it("removes a dead writer's and an old foreign host's files, keeps live writers' and other files", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-stale-'));
    const dead = deadPid();
    const tag = hostTag();
    const mine = `a.json.${process.pid}.${tag}.00000001.partial`;
    const deadOne = `b.json.${dead}.${tag}.00000002.partial`;
    const deadOld = `c.json.${dead}.0badf00d.partial`;
    const foreignFresh = `d.json.${dead}.ffffffff.00000003.partial`;
    const foreignOld = `e.json.${dead}.fffffffe.00000004.partial`;
    await mkdir(join(dir, 'sub'));
    const nested = join('sub', `f.json.${dead}.${tag}.00000005.partial`);
    for (const name of [mine, deadOne, deadOld, foreignFresh, foreignOld, nested, 'keep.json']) {
      await writeFile(join(dir, name), 'x');
    }
    const old = new Date(Date.now() - 48 * 3600 * 1000);
    await utimes(join(dir, foreignOld), old, old);
    const removed = await removeStaleTemporaryFiles(dir);
    expect(removed.sort()).toEqual([deadOne, deadOld, foreignOld].map((name) => join(dir, name)).sort());
    expect((await readdir(dir)).sort()).toEqual([mine, foreignFresh, 'keep.json', 'sub'].sort());
    expect(await removeStaleTemporaryFiles(dir, { recursive: true })).toEqual([join(dir, nested)]);
    expect(await removeStaleTemporaryFiles(join(dir, 'missing'))).toEqual([]);
  });
});
