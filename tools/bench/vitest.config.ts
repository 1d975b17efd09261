import { defineTraitlensProject } from '../../vitest.shared.ts';

export default defineTraitlensProject('bench');
