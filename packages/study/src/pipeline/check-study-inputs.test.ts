import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment } from '../config/load-experiment';
import { checkStudyInputs } from './check-study-inputs';

describe('checkStudyInputs (before any model loads)', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'traitlens-check-inputs-'));
    await writeFile(
      join(directory, 'contrast.json'),
      JSON.stringify([{ question: 'q', answer: 'a', contrastive_answer: 'b' }]),
    );
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function write(name: string, yaml: string): Promise<string> {
    const file = join(directory, name);
    await writeFile(file, yaml);
    return file;
  }

  it('lists every missing file and a bad layer selection at once', async () => {
    const file = await write(
      'broken.yaml',
      `name: broken
models: { instruct: { source: "hf:org/instruct" } }
stages:
  predictivity:
    layers: "5-2"
    caa: { items: missing-train.json }
    heldOut: [{ name: test, items: missing-test.json }]
    contrastSets: [{ name: free, file: contrast.json }]
`,
    );
    const experiment = await loadExperiment(file);
    const error = await checkStudyInputs(experiment, { stages: ['predictivity'] }).catch((caught) => caught);
    expect(TraitlensError.isInstance(error) && error.code).toBe('INVALID_EXPERIMENT');
    expect(error.message).toMatch(/3 problems found before loading any model/);
    expect(error.message).toMatch(/A\/B item file not found: .*missing-train\.json/);
    expect(error.message).toMatch(/missing-test\.json/);
    expect(error.message).toMatch(/stages\.predictivity\.layers: /);
    // Stages not about to run are not checked.
    await expect(checkStudyInputs(experiment, { stages: [] })).resolves.toBeUndefined();
  });

  it('rethrows a single problem as it is, and asks for the judge key before steering', async () => {
    const file = await write(
      'judge.yaml',
      `name: judge
models: { extraction: { source: "hf:org/base" }, instruct: { source: "hf:org/instruct" } }
judge: { spec: "openai:gpt-4.1-mini" }
stages:
  extract: { datasets: ${JSON.stringify(join(import.meta.dirname, '..', '..', '..', '..', 'datasets', 'traits'))}, traits: [alignment/sycophancy] }
`,
    );
    const experiment = await loadExperiment(file);
    await expect(
      checkStudyInputs(experiment, { stages: ['extract', 'steer'], environment: {} }),
    ).rejects.toThrow(
      /judge\.spec: openai:gpt-4\.1-mini calls https:\/\/api\.openai\.com\/v1, which needs an API key: set OPENAI_API_KEY/,
    );
    await expect(
      checkStudyInputs(experiment, { stages: ['extract', 'steer'], environment: { OPENAI_API_KEY: 'k' } }),
    ).resolves.toBeUndefined();
    await expect(
      checkStudyInputs(experiment, { stages: ['extract'], environment: {} }),
    ).resolves.toBeUndefined();
    const missing = await write(
      'missing.yaml',
      `name: missing\nmodels: { instruct: { source: "hf:o/i" } }\nstages:\n  predictivity:\n    caa: { items: nope.json }\n    contrastSets: [{ name: free, file: contrast.json }]\n`,
    );
    await expect(
      checkStudyInputs(await loadExperiment(missing), { stages: ['predictivity'] }),
    ).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
    });
  });
});
