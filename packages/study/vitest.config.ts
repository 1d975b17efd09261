import { defineTraitlensProject } from '../../vitest.shared.ts';

export default defineTraitlensProject('study', 300_000);
