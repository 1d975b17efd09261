import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from './write-file-atomic';

describe('writeFileAtomic', () => {
  it('writes content, creates parent folders and leaves no temporary files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traitlens-atomic-'));
    const path = join(dir, 'a', 'b', 'file.txt');
    await writeFileAtomic(path, 'first');
    await writeFileAtomic(path, [new Uint8Array([115, 101]), new Uint8Array([99, 111, 110, 100])]);
    expect(await readFile(path, 'utf8')).toBe('second'.slice(0, 2) + 'cond');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['file.txt']);
    await writeJsonAtomic(join(dir, 'x.json'), { a: 1 });
    expect(JSON.parse(await readFile(join(dir, 'x.json'), 'utf8'))).toEqual({ a: 1 });
  });
});
