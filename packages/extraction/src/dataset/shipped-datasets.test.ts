import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDatasetIssue } from './dataset-issue';
import { findTraitDatasets } from './find-trait-datasets';
import { validateTraitDataset } from './validate-trait-dataset';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');
const shippedRoot = join(repositoryRoot, 'datasets', 'traits');

describe('shipped trait data sets (datasets/traits)', () => {
  it.skipIf(!existsSync(shippedRoot))(
    'every one passes `traitlens datasets validate` (no errors)',
    async () => {
      const folders = await findTraitDatasets(shippedRoot);
      expect(folders.length).toBeGreaterThan(0);
      const errors: string[] = [];
      for (const folder of folders) {
        const { issues } = await validateTraitDataset(folder);
        for (const issue of issues)
          if (issue.severity === 'error') errors.push(formatDatasetIssue(folder, issue, repositoryRoot));
      }
      expect(errors).toEqual([]);
    },
  );
});
