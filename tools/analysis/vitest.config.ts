import { defineProject } from 'vitest/config';

// The root config treats every tools/* folder as a vitest project named after the folder, which would
// clash with packages/analysis; this folder only holds Python reference generators, so it gets its own
// name and no tests.
export default defineProject({ test: { name: 'analysis-tools', include: [] } });
