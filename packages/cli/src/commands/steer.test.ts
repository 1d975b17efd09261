import { existsSync, mkdtempSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTraitVectors } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../__fixtures__/run-cli-captured';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');
const stories = join(repositoryRoot, '..', 'shared', 'models', 'stories260k', 'hf');
process.env.TRAITLENS_CACHE ??= mkdtempSync(join(tmpdir(), 'traitlens-cli-cache-'));

describe.skipIf(!existsSync(join(stories, 'model.safetensors')))('traitlens steer', () => {
  it('--judge-timeout and --judge-attempts bound a judge that never answers', async () => {
    let requests = 0;
    // Accepts every request and never replies.
    const server = createServer(() => {
      requests++;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const root = await mkdtemp(join(tmpdir(), 'traitlens-cli-steer-'));
    const vectors = join(root, 'happiness.safetensors');
    await writeTraitVectors(vectors, {
      metadata: {
        trait: 'happiness',
        method: 'mean_diff',
        model: 'test',
        site: 'resid_post',
        tokenWindow: 'response[:5]',
        normalisation: 'unit',
        hiddenSize: 64,
      },
      vectors: new Map([[1, Float32Array.from({ length: 64 }, (_, i) => (i === 3 ? 1 : 0))]]),
    });
    try {
      const result = await capture([
        'steer',
        '--model',
        stories,
        '--datasets',
        join(repositoryRoot, 'datasets', 'traits'),
        '--trait',
        'tinystories/happiness',
        '--vectors',
        vectors,
        '--experiment',
        root,
        '--judge',
        'openai:test-judge',
        '--judge-base-url',
        `http://127.0.0.1:${port}/v1`,
        '--judge-timeout',
        '0.2',
        '--judge-attempts',
        '2',
        '--judge-concurrency',
        '1',
        '--questions',
        '1',
        '--steps',
        '1',
        '--max-new-tokens',
        '4',
        '--threads',
        '1',
      ]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain('after 2 attempts');
      // The first request was tried twice before the run gave up.
      expect(requests).toBeGreaterThanOrEqual(2);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
