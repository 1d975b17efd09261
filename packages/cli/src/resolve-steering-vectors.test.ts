import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveSteeringVectors } from './resolve-steering-vectors';

describe('resolveSteeringVectors', () => {
  let experiment: string;
  const folder = () => join(experiment, 'extraction', 'alignment', 'sycophancy');
  const writeEvaluation = async (content: unknown) => {
    await mkdir(folder(), { recursive: true });
    await writeFile(join(folder(), 'evaluation.json'), JSON.stringify(content));
  };
  const resolve = (method: string) =>
    resolveSteeringVectors({ experiment, category: 'alignment', trait: 'sycophancy', method });

  beforeEach(async () => {
    experiment = await mkdtemp(join(tmpdir(), 'traitlens-resolve-vectors-'));
  });
  afterEach(async () => {
    await rm(experiment, { recursive: true, force: true });
  });

  it('names the method file, or the one evaluation.json ranks best at resid_post', async () => {
    expect(await resolve('mean_diff')).toBe(join(folder(), 'vectors', 'mean_diff.safetensors'));
    await writeEvaluation({ sites: { resid_post: { best: { method: 'probe' } } } });
    expect(await resolve('best')).toBe(join(folder(), 'vectors', 'probe.safetensors'));
  });

  it.each([
    [{ sites: { resid_post: { best: null } } }],
    [{ sites: { resid_post: { best: { method: 3 } } } }],
    [{ sites: 'resid_post' }],
    [[]],
  ])('refuses --method best when evaluation.json %j names no method', async (content) => {
    await writeEvaluation(content);
    const error = await resolve('best').catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(/names no best method at resid_post/);
  });

  it('says to run extract first when evaluation.json is missing', async () => {
    const error = await resolve('best').catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'FILE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(/run traitlens extract for alignment\/sycophancy/);
  });
});
