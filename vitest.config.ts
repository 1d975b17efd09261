import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'datasets', 'examples/*', 'tools/gpu-check', 'tools/bench'],
    passWithNoTests: true,
  },
});
