import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index';
import { createTinyModel } from '../src/testing/index';

describe('graph cache', () => {
  it('converts a model once when loads race, and takes over the lock of a dead process', async () => {
    const tiny = await createTinyModel({ seed: 17 });
    const cacheDirectory = await mkdtemp(join(tmpdir(), 'traitlens-race-'));
    let conversions = 0;
    const onProgress = (event: { stage: string; done: number }) => {
      if (event.stage === 'convert' && event.done === 1) conversions++;
    };
    const [a, b] = await Promise.all([
      loadModel(tiny.directory, { cacheDirectory, onProgress }),
      loadModel(tiny.directory, { cacheDirectory, onProgress }),
    ]);
    expect(conversions).toBe(1);
    const [rowA] = await a.forward('hello');
    const [rowB] = await b.forward('hello');
    expect(rowA!.logits).toEqual(rowB!.logits);
    await Promise.all([a.dispose(), b.dispose()]);

    // A stale lock left by a crashed process (a pid that is not running) does not block a new load.
    const staleCache = await mkdtemp(join(tmpdir(), 'traitlens-stale-'));
    const first = await loadModel(tiny.directory, { cacheDirectory: staleCache });
    await first.dispose();
    const [key] = await readdir(join(staleCache, 'graphs'));
    const otherCache = await mkdtemp(join(tmpdir(), 'traitlens-stale2-'));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(otherCache, 'graphs', key!), { recursive: true });
    await writeFile(join(otherCache, 'graphs', key!, 'conversion.lock'), '2147483646');
    const second = await loadModel(tiny.directory, { cacheDirectory: otherCache });
    expect((await second.forward('hello'))[0]!.logits).toEqual(rowA!.logits);
    await second.dispose();
    expect(await readdir(join(otherCache, 'graphs', key!))).not.toContain('conversion.lock');
    await tiny.remove();
  });
});

describe('session limit', () => {
  it('keeps at most maxSessions hook plans loaded and rebuilds a released one with the same results', async () => {
    const tiny = await createTinyModel({ seed: 19 });
    const model = await loadModel(tiny.directory, { maxSessions: 1 });
    const point = { layer: 1, site: 'resid_post' as const };
    const [first] = await model.forward('hello there', { capture: [point] });
    const [steered] = await model.forward('hello there', {
      steer: [
        {
          point,
          mode: 'add',
          vector: new Float32Array(model.config.hiddenSize).fill(0.1),
          coefficient: 1,
          positions: 'all',
        },
      ],
    });
    expect((model as unknown as { loadedSessionCount: number }).loadedSessionCount).toBe(1);
    const [again] = await model.forward('hello there', { capture: [point] });
    expect(again!.captures.get('resid_post.1')).toEqual(first!.captures.get('resid_post.1'));
    expect(steered!.logits).not.toEqual(first!.logits);
    // Concurrent calls on different plans both complete even with one slot.
    const results = await Promise.all([
      model.forward('a', { capture: [point] }),
      model.forward('b'),
      model.generate('c', { maxNewTokens: 3 }),
    ]);
    expect(results).toHaveLength(3);
    await model.dispose();
    await tiny.remove();
  });
});

describe('sharded checkpoints', () => {
  it('loads weights split over shards listed in model.safetensors.index.json, with the same results', async () => {
    const { readSafetensors, writeSafetensors } = await import('@traitlens/core');
    const { copyFile, mkdir } = await import('node:fs/promises');
    const tiny = await createTinyModel({ seed: 23, dtype: 'BF16' });
    const sharded = await mkdtemp(join(tmpdir(), 'traitlens-sharded-'));
    await mkdir(sharded, { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
      await copyFile(join(tiny.directory, file), join(sharded, file));
    const { tensors } = await readSafetensors(join(tiny.directory, 'model.safetensors'));
    const names = [...tensors.keys()];
    const shards = [names.filter((_, i) => i % 2 === 0), names.filter((_, i) => i % 2 === 1)];
    const weightMap: Record<string, string> = {};
    for (const [index, shard] of shards.entries()) {
      const file = `model-0000${index + 1}-of-00002.safetensors`;
      await writeSafetensors(
        join(sharded, file),
        Object.fromEntries(
          shard.map((name) => [
            name,
            { dtype: 'F32' as const, shape: tensors.get(name)!.shape, data: tensors.get(name)!.data },
          ]),
        ),
      );
      for (const name of shard) weightMap[name] = file;
    }
    await writeFile(
      join(sharded, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    const single = await loadModel(tiny.directory);
    const split = await loadModel(sharded);
    const [a] = await single.forward('sharded weights');
    const [b] = await split.forward('sharded weights');
    // BF16 values widen to float32 exactly, so both load the same numbers.
    expect(b!.logits).toEqual(a!.logits);
    await Promise.all([single.dispose(), split.dispose()]);
    await tiny.remove();
  });
});
