import { defineTraitlensProject } from '../../vitest.shared.ts';

// The demo runs the whole pipeline on a real model: allow it a few minutes on a loaded 2-core machine.
export default defineTraitlensProject('example-quickstart', 600_000);
