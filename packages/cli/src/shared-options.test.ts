import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addModelOptions, type ModelCommandOptions, toLoadModelOptions } from './shared-options';

function parseModelOptions(argv: string[]): ModelCommandOptions {
  const command = addModelOptions(new Command('load').exitOverride());
  command.parse(['--model', 'some/folder', ...argv], { from: 'user' });
  return command.opts<ModelCommandOptions>();
}

describe('model options to loadModel options', () => {
  it('keeps asymmetric blocks by default and passes --no-zero-points through as zeroPoints: false', () => {
    const { model: _model, ...defaults } = parseModelOptions(['--dtype', 'int4']);
    expect(toLoadModelOptions(defaults)).toMatchObject({ dtype: 'int4', blockSize: 32, zeroPoints: true });
    const { model: _again, ...symmetric } = parseModelOptions(['--dtype', 'int4', '--no-zero-points']);
    expect(toLoadModelOptions(symmetric)).toMatchObject({ dtype: 'int4', blockSize: 32, zeroPoints: false });
  });
});
