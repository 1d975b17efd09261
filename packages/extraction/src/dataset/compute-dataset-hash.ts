import { createHash } from 'node:crypto';

/**
 * Normalises a data set file the way the hash sees it: no byte-order mark, LF line endings, exactly
 * one final newline. Re-saving a file on Windows or adding a final newline does not change the hash.
 */
export function normalizeDatasetText(text: string): string {
  const withoutBom = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return `${withoutBom.replace(/\r\n?/g, '\n').replace(/\n+$/, '')}\n`;
}

/**
 * `sha256:<hex>` over the files that determine a vector: the two prompt files and the rubric (which
 * vetting uses), in that order, each as `name\n` + normalised content. CARD.md and steering.json are
 * left out on purpose: editing documentation or steering questions does not change extracted vectors.
 */
export function computeDatasetHash(files: readonly { name: string; text: string }[]): string {
  const hash = createHash('sha256');
  hash.update('traitlens-dataset-v1\n');
  for (const file of files) {
    hash.update(`${file.name}\n`);
    hash.update(normalizeDatasetText(file.text));
  }
  return `sha256:${hash.digest('hex')}`;
}
