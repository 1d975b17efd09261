import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineProject } from 'vitest/config';

/** One vitest project per package; sources are resolved through the `@traitlens/source` condition. */
export function defineTraitlensProject(name: string, testTimeout = 60_000) {
  const conditions = ['@traitlens/source', 'import', 'module', 'node', 'default'];
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@traitlens/source'] } },
    test: {
      // Built graphs go to a test cache (content-keyed, so sharing it between runs is safe), never to the
      // user's ~/.cache/traitlens.
      env: { TRAITLENS_CACHE: process.env.TRAITLENS_CACHE ?? join(tmpdir(), 'traitlens-test-cache') },
      name,
      environment: 'node',
      testTimeout,
      hookTimeout: testTimeout,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    },
  });
}
