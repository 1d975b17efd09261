import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*', 'tools/gpu-check'],
    passWithNoTests: true,
  },
});
