import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeActivationFile } from '@traitlens/core';
import { activationTextsPath } from '@traitlens/core/internal';
import { describe, expect, it } from 'vitest';
import { inferencePaths } from '../storage/inference-paths';
import { isPromptOutputComplete, resolveCaptureStorage } from './capture-storage';

describe('isPromptOutputComplete', () => {
  it('needs the activation file with the right ids and tensors and its JSON twin', async () => {
    const experiment = await mkdtemp(join(tmpdir(), 'traitlens-capture-storage-'));
    const paths = inferencePaths(experiment, 'base', 'set');
    const storage = resolveCaptureStorage(
      { points: [{ site: 'resid_post', layer: 0 }], activationDtype: 'F32' },
      { layerCount: 2, hiddenSize: 2 },
      'm',
    );
    const record = { promptId: 'p1', promptTokenIds: [1, 2], responseTokenIds: [3] };
    const write = (texts: boolean) =>
      writeActivationFile(
        paths.activationFile('p1'),
        {
          variant: 'base',
          model: 'm',
          promptId: 'p1',
          promptTokenIds: Int32Array.from([1, 2]),
          responseTokenIds: Int32Array.from([3]),
          hiddenSize: 2,
          dtype: 'F32',
          activations: new Map([
            ['prompt.resid_post.0', new Float32Array(4)],
            ['response.resid_post.0', new Float32Array(2)],
          ]),
        },
        texts
          ? {
              promptId: 'p1',
              promptText: 'a b',
              responseText: 'c',
              promptTokens: ['a', 'b'],
              responseTokens: ['c'],
            }
          : undefined,
      );
    expect(await isPromptOutputComplete(paths, record, storage)).toBe(false);
    // An activation file without its twin (a run killed between the two by an older version) is not done.
    await write(false);
    expect(await isPromptOutputComplete(paths, record, storage)).toBe(false);
    await write(true);
    expect(await isPromptOutputComplete(paths, record, storage)).toBe(true);
    await rm(activationTextsPath(paths.activationFile('p1')));
    expect(await isPromptOutputComplete(paths, record, storage)).toBe(false);
    await write(true);
    expect(await isPromptOutputComplete(paths, { ...record, responseTokenIds: [4] }, storage)).toBe(false);
  });
});
