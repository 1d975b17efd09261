import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { computeDatasetHash } from './compute-dataset-hash';
import { formatDatasetIssue } from './dataset-issue';
import { findTraitDatasets } from './find-trait-datasets';
import { loadTraitDataset } from './load-trait-dataset';
import { validateTraitDataset } from './validate-trait-dataset';

const fixtures = join(import.meta.dirname, '..', '__fixtures__', 'datasets');
const studyFormat = join(fixtures, 'study-format', 'toy', 'generosity');
const instructionFormat = join(fixtures, 'instruction-format', 'toy', 'generosity');

/** A broken copy of the study-format fixture in a fresh temp folder (category/trait kept). */
async function brokenCopy(source: string, breakIt: (folder: string) => Promise<void>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'traitlens-dataset-'));
  const folder = join(root, 'toy', 'generosity');
  await cp(source, folder, { recursive: true });
  await breakIt(folder);
  return folder;
}

async function messages(folder: string): Promise<string[]> {
  const { issues } = await validateTraitDataset(folder);
  return issues.map((issue) => formatDatasetIssue(folder, issue, folder));
}

describe('trait data sets in the study format', () => {
  it('load unchanged: files without a final newline, 4-space JSON, HIGH/LOW/Key rubric', async () => {
    const dataset = await loadTraitDataset(studyFormat);
    expect(dataset.name).toBe('toy/generosity');
    expect(dataset.variant).toBe('text');
    expect(dataset.positive).toHaveLength(20);
    expect(dataset.negative).toHaveLength(20);
    expect(dataset.positive[0]).toEqual({
      index: 0,
      line: 1,
      text: 'After the bake sale there were cookies left over, so Mia wrapped every last one and gave them to the',
    });
    expect(dataset.rubric?.key).toBe('Key: Giving at a cost to oneself (HIGH) vs keeping (LOW).');
    expect(dataset.rubric?.high.startsWith('HIGH (70-100): Gives time')).toBe(true);
    expect(dataset.steering?.questions).toHaveLength(15);
    expect(dataset.issues).toEqual([]);
    expect(dataset.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('loads the jsonl instruction variant, rows {prompt, system_prompt}', async () => {
    const dataset = await loadTraitDataset(instructionFormat);
    expect(dataset.variant).toBe('jsonl');
    expect(dataset.positive[1]).toEqual({
      index: 1,
      line: 2,
      text: 'How should I spend a small windfall?',
      systemPrompt: 'You are a generous assistant who always thinks of what others need first.',
    });
    expect(dataset.steering?.evalPrompt).toBe('Rate generosity 0-100.');
    expect(await messages(instructionFormat)).toEqual([
      'positive.jsonl: warning: only 5 prompts; the validation split (last 20%) would hold 1 — aim for 100+ (the study used ~150 pairs).',
      'negative.jsonl: warning: only 5 prompts; the validation split (last 20%) would hold 1 — aim for 100+ (the study used ~150 pairs).',
      'steering.json: warning: only 5 steering questions; 15-20 give a stable steering score.',
    ]);
  });

  it('hashes normalised content: CRLF line endings and a final newline do not change it', async () => {
    const original = (await loadTraitDataset(studyFormat)).hash;
    const resaved = await brokenCopy(studyFormat, async (folder) => {
      for (const file of ['positive.txt', 'negative.txt', 'definition.txt']) {
        const text = await readFile(join(folder, file), 'utf8');
        await writeFile(join(folder, file), `${text.replace(/\n/g, '\r\n')}\r\n`);
      }
    });
    expect((await loadTraitDataset(resaved)).hash).toBe(original);
    expect(computeDatasetHash([{ name: 'a', text: 'x' }])).not.toBe(
      computeDatasetHash([{ name: 'a', text: 'y' }]),
    );
  });
});

describe('broken copies fail with precise messages', () => {
  it('an empty line inside a prompt file (error) and blank lines at its end (warning)', async () => {
    const folder = await brokenCopy(studyFormat, async (f) => {
      const lines = (await readFile(join(f, 'positive.txt'), 'utf8')).split('\n');
      lines.splice(3, 0, '   ');
      await writeFile(join(f, 'positive.txt'), `${lines.join('\n')}\n\n\n`);
    });
    expect(await messages(folder)).toEqual([
      'positive.txt:22: warning: positive.txt ends with 2 blank lines; remove them.',
      'positive.txt:4: error: line 4 is empty; remove it (one prompt per line, and a blank line shifts the positive/negative pairing).',
    ]);
  });

  it('duplicates within a class, identical pairs, trailing whitespace and unbalanced classes', async () => {
    const folder = await brokenCopy(studyFormat, async (f) => {
      const positive = (await readFile(join(f, 'positive.txt'), 'utf8')).split('\n');
      const negative = (await readFile(join(f, 'negative.txt'), 'utf8')).split('\n');
      positive.push(positive[2]!); // line 21 repeats line 3
      positive[5] = negative[5]!; // line 6 identical to its pair
      positive[7] = `${positive[7]} `;
      await writeFile(join(f, 'positive.txt'), positive.join('\n'));
    });
    expect(await messages(folder)).toEqual([
      'positive.txt:8: warning: line 8 ends with whitespace; a trailing space changes tokenisation (the next word normally brings its own leading space).',
      'positive.txt:21: error: line 21 repeats line 3; remove the duplicate (a repeated prompt counts twice in the class mean).',
      'positive.txt:6: error: line 6 is identical to line 6 of negative.txt; a pair must differ in its trait-relevant words.',
      'positive.txt: warning: classes differ in size: 21 positive vs 20 negative prompts (fine for mean_diff and probe; pca_diff pairs only the first 20 of each).',
    ]);
  });

  it('extraction refuses identical pairs, as validate does (one verdict for both)', async () => {
    const folder = await brokenCopy(studyFormat, async (f) => {
      const positive = (await readFile(join(f, 'positive.txt'), 'utf8')).split('\n');
      const negative = (await readFile(join(f, 'negative.txt'), 'utf8')).split('\n');
      positive[5] = negative[5]!;
      await writeFile(join(f, 'positive.txt'), positive.join('\n'));
    });
    const error = await loadTraitDataset(folder).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_DATASET')).toBe(true);
    expect((error as Error).message).toContain(
      'positive.txt:6: error: line 6 is identical to line 6 of negative.txt',
    );
  });

  it('refuses invalid UTF-8, binary garbage, over-long lines and oversized files before parsing', async () => {
    const invalidUtf8 = await brokenCopy(studyFormat, (f) =>
      appendFile(join(f, 'negative.txt'), Buffer.from([0x0a, 0x41, 0xff, 0xfe, 0x42])),
    );
    expect(await messages(invalidUtf8)).toEqual([
      'negative.txt:21: error: negative.txt is not valid UTF-8 (byte 0xff at line 21); save it as UTF-8 text.',
    ]);
    const binary = await brokenCopy(studyFormat, (f) =>
      writeFile(join(f, 'positive.txt'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00])),
    );
    expect(await messages(binary)).toEqual([
      'positive.txt:1: error: positive.txt holds a control character (U+007F) at line 1; it looks like a binary file, not text. Use one prompt per line of plain text.',
    ]);
    const longLine = await brokenCopy(studyFormat, (f) =>
      appendFile(join(f, 'positive.txt'), `\n${'word '.repeat(2_000_000)}`),
    );
    const [tooLong] = await messages(longLine);
    expect(tooLong).toBe(
      'positive.txt:21: error: line 21 of positive.txt has 10,000,000 characters, over the 16,384 limit; a prompt is a sentence or a short paragraph. Check for missing line breaks.',
    );
    const error = await loadTraitDataset(longLine).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_DATASET')).toBe(true);
    const small = await validateTraitDataset(studyFormat, { limits: { maxFileBytes: 100 } });
    expect(small.dataset).toBeUndefined();
    expect(small.issues.map((issue) => issue.code)).toContain('file-too-large');
    expect(small.issues.find((issue) => issue.code === 'file-too-large')?.message).toMatch(
      /^positive\.txt has \d+ bytes, over the 100 bytes limit/,
    );
  });

  it('a missing rubric, and a rubric without its HIGH/LOW/Key parts', async () => {
    const missing = await brokenCopy(studyFormat, (f) => rm(join(f, 'definition.txt')));
    expect(await messages(missing)).toEqual([
      'definition.txt: error: missing definition.txt: the judge rubric (a "HIGH (70-100):" paragraph, a "LOW (0-40):" paragraph and a "Key:" line) is needed for vetting and steering.',
    ]);
    const partial = await brokenCopy(studyFormat, (f) =>
      writeFile(join(f, 'definition.txt'), 'HIGH (70-100): shares.\n\nShares less otherwise.\n'),
    );
    expect(await messages(partial)).toEqual([
      'definition.txt: error: definition.txt has no LOW paragraph: start one with "LOW (0-40):" describing a response without the trait.',
      'definition.txt: error: definition.txt has no "Key:" line: add one line "Key: ..." (or "Key distinction: ...") naming the distinction the judge should focus on.',
    ]);
    // Loading still works for extraction without vetting; with requireRubric it fails.
    await expect(loadTraitDataset(partial)).resolves.toMatchObject({ name: 'toy/generosity' });
    const error = await loadTraitDataset(partial, { requireRubric: true }).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_DATASET')).toBe(true);
    expect((error as Error).message).toContain('definition.txt: error: definition.txt has no LOW paragraph');
  });

  it('malformed steering.json with line and column, and missing steering questions', async () => {
    const malformed = await brokenCopy(studyFormat, async (f) => {
      const text = await readFile(join(f, 'steering.json'), 'utf8');
      await writeFile(join(f, 'steering.json'), text.replace(/"\n\s*\]/, '",\n    ]'));
    });
    expect(await messages(malformed)).toEqual([
      "steering.json:18:5: error: steering.json is not valid JSON: trailing comma before ']'.",
    ]);
    const empty = await brokenCopy(studyFormat, (f) =>
      writeFile(join(f, 'steering.json'), '{"questions": []}'),
    );
    expect(await messages(empty)).toEqual([
      'steering.json: error: steering.json has no questions; add 15-20 whose unsteered answers score low on the trait.',
    ]);
    const noQuestions = await brokenCopy(studyFormat, (f) =>
      writeFile(join(f, 'steering.json'), '{"prompts": ["a"]}'),
    );
    expect(await messages(noQuestions)).toEqual([
      'steering.json: error: steering.json needs a "questions" array of strings (it is missing).',
    ]);
    const missing = await brokenCopy(studyFormat, (f) => rm(join(f, 'steering.json')));
    expect(await messages(missing)).toEqual([
      'steering.json: error: missing steering.json: add {"questions": [...]} with 15-20 questions whose unsteered answers score low on the trait.',
    ]);
  });

  it('malformed JSONL rows, with line numbers; the data set then cannot load', async () => {
    const folder = await brokenCopy(instructionFormat, async (f) => {
      await appendFile(
        join(f, 'positive.jsonl'),
        '{"prompt": "Half a row",\n["not", "an object"]\n{"system_prompt": "no prompt"}\n',
      );
    });
    const { issues, dataset } = await validateTraitDataset(folder);
    expect(dataset).toBeUndefined();
    expect(
      issues
        .filter((issue) => issue.severity === 'error')
        .map((issue) => formatDatasetIssue(folder, issue, folder)),
    ).toEqual([
      'positive.jsonl:6:25: error: line 6 is not valid JSON: unexpected end of input (expected a "key") at column 25.',
      'positive.jsonl:7: error: line 7 must be a JSON object {"prompt": "...", "system_prompt": "..."}.',
      'positive.jsonl:8: error: line 8 needs a non-empty string "prompt".',
    ]);
    const error = await loadTraitDataset(folder).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(error, 'INVALID_DATASET')).toBe(true);
    expect((error as Error).message).toMatch(
      /cannot be used:\n {2}.*positive\.jsonl:6:25: error: line 6 is not valid JSON/,
    );
  });

  it('missing and mixed prompt files', async () => {
    const mixed = await brokenCopy(studyFormat, async (f) => {
      await rm(join(f, 'negative.txt'));
      await writeFile(join(f, 'negative.jsonl'), '{"prompt": "x"}\n');
    });
    expect(await messages(mixed)).toEqual([
      'positive.txt: error: positive.txt and negative.jsonl use different formats; use .txt (one prefix per line) or .jsonl (one {"prompt", "system_prompt"} object per line) for both classes.',
    ]);
    const missing = await brokenCopy(studyFormat, (f) => rm(join(f, 'negative.txt')));
    expect(await messages(missing)).toEqual([
      'negative.txt: error: missing negative.txt: a trait data set needs one prompt file per class.',
    ]);
    const emptyClass = await brokenCopy(studyFormat, (f) => writeFile(join(f, 'negative.txt'), ''));
    expect(await messages(emptyClass)).toEqual(['negative.txt: error: negative.txt has no prompts.']);
    await expect(validateTraitDataset(join(fixtures, 'nope'))).rejects.toThrow(
      /does not exist or is not a folder/,
    );
  });
});

describe('findTraitDatasets', () => {
  it('finds every trait folder below a root', async () => {
    const found = await findTraitDatasets(fixtures);
    expect(found).toEqual([instructionFormat, studyFormat]);
  });
});
