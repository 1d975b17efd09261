import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { loadSteeringTrait } from './load-steering-trait';

const traits = join(import.meta.dirname, '..', '__fixtures__', 'traits');

describe('loadSteeringTrait', () => {
  it('reads the rubric and the questions', async () => {
    const trait = await loadSteeringTrait(join(traits, 'cheerful'));
    expect(trait.name).toBe('cheerful');
    expect(trait.questions).toEqual(['Once upon a time', 'One day, a boy', 'The dog looked at']);
    expect(trait.rubric).toMatch(/^HIGH \(70-100\)/);
    expect(trait.evalPrompt).toBeUndefined();
  });

  it('says which file is missing when a trait folder has no steering questions', async () => {
    const error = await loadSteeringTrait(join(traits, 'no-steering')).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_DATASET')).toBe(true);
    expect((error as Error).message).toMatch(/no steering\.json .*no-steering.*"questions"/);
  });

  it('rejects an empty questions list', async () => {
    await expect(loadSteeringTrait(join(traits, 'empty-questions'))).rejects.toThrow(
      /has no steering questions/,
    );
  });

  it('rejects a folder that does not exist', async () => {
    await expect(loadSteeringTrait(join(traits, 'missing'))).rejects.toThrow(/no definition\.txt/);
  });
});
