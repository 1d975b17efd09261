import { join } from 'node:path';
import { expect, it } from 'vitest';
import { compareApiReport } from '../../../tools/api-report/api-report';

it('api.md lists exactly what the entry points export (after a deliberate change: node --import tsx tools/api-report/api-report.ts)', () => {
  const { committed, current } = compareApiReport(join(import.meta.dirname, '..'));
  expect(current).toBe(committed);
});
