import { existsSync, mkdtempSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layerConvention, readSafetensors } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../__fixtures__/run-cli-captured';

const stories = join(import.meta.dirname, '../../../../../shared/models/stories260k/hf');
const hasStories = existsSync(join(stories, 'model.safetensors'));
// Keep the user's graph cache untouched.
process.env.TRAITLENS_CACHE ??= mkdtempSync(join(tmpdir(), 'traitlens-cli-cache-'));
const known =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high';

describe.skipIf(!hasStories)('traitlens generate / activations on stories260k', () => {
  it('generate prints the known greedy text from BOS', async () => {
    const result = await capture([
      'generate',
      '--model',
      stories,
      '--prompt',
      '',
      '--max-new-tokens',
      '60',
      '--threads',
      '1',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${known}\n`);
  });

  it('activations writes {site}.{layer}, logits and token ids with the layer convention', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'traitlens-cli-')), 'acts.safetensors');
    const result = await capture([
      'activations',
      '--model',
      stories,
      '--text',
      'Once upon a time',
      '--layers',
      '1-3',
      '--sites',
      'resid_post,attn_out',
      '--out',
      out,
      '--threads',
      '1',
    ]);
    expect(result.code).toBe(0);
    const file = await readSafetensors(out);
    expect([...file.tensors.keys()].sort()).toEqual(
      [
        'attn_out.1',
        'attn_out.2',
        'attn_out.3',
        'logits',
        'resid_post.1',
        'resid_post.2',
        'resid_post.3',
        'token_ids',
      ].sort(),
    );
    expect(Array.from(file.tensors.get('token_ids')!.data)).toEqual([1, 403, 407, 261, 378]);
    expect(file.tensors.get('resid_post.2')!.shape).toEqual([5, 64]);
    expect(file.tensors.get('logits')!.shape).toEqual([5, 512]);
    expect(file.metadata.layer_convention).toBe(layerConvention);
    const byIds = join(tmpdir(), `acts-ids-${process.pid}.safetensors`);
    expect(
      (
        await capture([
          'activations',
          '--model',
          stories,
          '--ids',
          '1,403,407,261,378',
          '--layers',
          '2',
          '--out',
          byIds,
        ])
      ).code,
    ).toBe(0);
    expect(Array.from((await readSafetensors(byIds)).tensors.get('resid_post.2')!.data)).toEqual(
      Array.from(file.tensors.get('resid_post.2')!.data),
    );
  });

  it('reports bad input as a TraitlensError message and exit code 1', async () => {
    const result = await capture([
      'activations',
      '--model',
      stories,
      '--text',
      'x',
      '--layers',
      '9',
      '--out',
      join(tmpdir(), 'never.safetensors'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Layer 9 is out of range: the model has 5 layers \(0-4\)/);
    expect(result.stderr).toMatch(/LAYER_OUT_OF_RANGE/);
    const missing = await capture(['generate', '--model', join(tmpdir(), 'no-such-model'), '--prompt', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Model folder not found/);
  });
});
