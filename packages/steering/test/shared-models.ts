import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** ../shared beside the repository (absent on some machines: tests that need it skip, saying so). */
export const sharedDirectory = join(import.meta.dirname, '../../../../shared');
export const stories260kDirectory = join(sharedDirectory, 'models/stories260k/hf');
export const hasStories260k = existsSync(join(stories260kDirectory, 'model.safetensors'));
if (!hasStories260k) console.warn(`skipping stories260k steering tests: ${stories260kDirectory} is absent`);

/** One graph cache per test process, so tests never touch the user's cache. */
export const testCacheDirectory = mkdtempSync(join(tmpdir(), 'traitlens-steering-test-cache-'));
