import { describe, expect, it } from 'vitest';
import { describeAdapterBaseModelMismatch } from './adapter-base-model-mismatch';

const check = (
  adapterBaseModel: string | undefined,
  modelSource: string,
  modelDirectory = modelSource,
  modelConfig = {},
) =>
  describeAdapterBaseModelMismatch({
    adapterDirectory: '/adapters/rm-lora',
    adapterBaseModel,
    modelSource,
    modelDirectory,
    modelConfig,
  });

describe('describeAdapterBaseModelMismatch', () => {
  it('warns when the adapter names another base model than the one it is applied to', () => {
    const warning = check(
      'meta-llama/Llama-3.3-70B-Instruct',
      'hf:meta-llama/Llama-3.1-70B-Instruct@0123abcd',
      '/hf/hub/models--meta-llama--Llama-3.1-70B-Instruct/snapshots/0123abcd',
    );
    expect(warning).toContain('/adapters/rm-lora was trained on meta-llama/Llama-3.3-70B-Instruct');
    expect(warning).toContain('applied to hf:meta-llama/Llama-3.1-70B-Instruct@0123abcd');
    expect(check('org/tiny-a', '/models/tiny-b')).toContain('trained on org/tiny-a');
  });

  it('is quiet for the same model by Hub id, cache path, config name or folder name, and for no base', () => {
    expect(
      check('meta-llama/Llama-3.3-70B-Instruct', 'hf:meta-llama/Llama-3.3-70B-Instruct'),
    ).toBeUndefined();
    expect(
      check(
        'meta-llama/Llama-3.3-70B-Instruct',
        '/x',
        '/hf/hub/models--meta-llama--Llama-3.3-70B-Instruct/snapshots/ab12',
      ),
    ).toBeUndefined();
    expect(
      check('meta-llama/llama-3.3-70b-instruct', '/models/copy', '/models/copy', {
        _name_or_path: 'meta-llama/Llama-3.3-70B-Instruct',
      }),
    ).toBeUndefined();
    expect(check('/home/me/models/Llama-3.3-70B-Instruct/', '/data/Llama-3.3-70B-Instruct')).toBeUndefined();
    expect(check('stories260k', '../shared/models/stories260k/hf')).toBeUndefined();
    expect(check(undefined, '/models/anything')).toBeUndefined();
  });
});
