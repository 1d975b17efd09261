import { defineTraitlensProject } from '../../vitest.shared.ts';

export default defineTraitlensProject('rm-sycophancy');
