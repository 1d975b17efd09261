import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listExtractedTraits } from './list-extracted-traits';

describe('listExtractedTraits', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  it('lists category/trait folders sorted, ignoring files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-traits-'));
    roots.push(root);
    for (const folder of ['b/zeta', 'b/alpha', 'a/kindness'])
      await mkdir(join(root, 'extraction', folder), { recursive: true });
    await writeFile(join(root, 'extraction', 'summary.json'), '{}');
    await writeFile(join(root, 'extraction', 'b', 'notes.txt'), '');
    expect(await listExtractedTraits(root)).toEqual([
      { category: 'a', trait: 'kindness' },
      { category: 'b', trait: 'alpha' },
      { category: 'b', trait: 'zeta' },
    ]);
  });

  it('finds none in an experiment without an extraction folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-traits-'));
    roots.push(root);
    expect(await listExtractedTraits(root)).toEqual([]);
  });
});
