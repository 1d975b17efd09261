import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** ../shared beside the repository (absent on some machines: tests that need it skip, saying so). */
export const sharedDirectory = join(import.meta.dirname, '../../../../shared');
export const stories260kDirectory = join(sharedDirectory, 'models/stories260k/hf');
export const hasStories260k = existsSync(join(stories260kDirectory, 'model.safetensors'));
if (!hasStories260k) console.warn(`skipping stories260k tests: ${stories260kDirectory} is absent`);

/** One graph cache per test process, so tests never touch the user's cache. */
export const testCacheDirectory = mkdtempSync(join(tmpdir(), 'traitlens-test-cache-'));

export const knownStoriesText =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high';
export const knownStoriesIds = [
  1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267,
];
