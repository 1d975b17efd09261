import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { writeReport } from './write-report';

describe('writeReport on hand-edited inputs', () => {
  it.each([[{ traits: 5 }], [{ variants: 'x', traits: 'y' }], [[]]])(
    'a summary.json of the wrong shape (%j) is INVALID_EXPERIMENT naming the files, not a TypeError',
    async (summary) => {
      const root = await mkdtemp(join(tmpdir(), 'traitlens-report-shape-'));
      await mkdir(join(root, 'analysis'), { recursive: true });
      await writeFile(join(root, 'analysis', 'summary.json'), JSON.stringify(summary));
      const error = await writeReport({ experiment: root, images: false }).catch((caught: unknown) => caught);
      expect(TraitlensError.hasCode(error, 'INVALID_EXPERIMENT')).toBe(true);
      expect((error as Error).message).toContain(join(root, 'analysis'));
      expect((error as Error).message).toContain('Re-run traitlens analyze');
    },
  );
});
