import { defineProject } from 'vitest/config';

/** One vitest project per package; sources are resolved through the `@traitlens/source` condition. */
export function defineTraitlensProject(name: string, testTimeout = 60_000) {
  const conditions = ['@traitlens/source', 'import', 'module', 'node', 'default'];
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@traitlens/source'] } },
    test: {
      name,
      environment: 'node',
      testTimeout,
      hookTimeout: testTimeout,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    },
  });
}
