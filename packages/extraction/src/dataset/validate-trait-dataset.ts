import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { computeDatasetHash } from './compute-dataset-hash';
import type { DatasetIssue, DatasetIssueCode } from './dataset-issue';
import { locateJsonSyntaxError } from './locate-json-syntax-error';
import { parseRubric } from './parse-rubric';
import { type DatasetTextLimits, defaultDatasetTextLimits, readDatasetText } from './read-dataset-text';
import type {
  TraitDataset,
  TraitDatasetVariant,
  TraitPrompt,
  TraitRubric,
  TraitSteeringQuestions,
} from './trait-dataset';

export interface ValidateTraitDatasetOptions {
  /** Which prompt files to read; `auto` (default) prefers .txt when both exist. */
  variant?: TraitDatasetVariant | 'auto';
  /** Size limits per file and line (default {@link defaultDatasetTextLimits}: 16 MiB, 16,384 characters). */
  limits?: Partial<DatasetTextLimits>;
}

/** The validator's verdict: the data set when its prompts could be read, and every issue found. */
export interface TraitDatasetValidation {
  directory: string;
  dataset: TraitDataset | undefined;
  issues: DatasetIssue[];
}

/** Issues after which the prompts cannot be used at all (the others still let a data set load). */
const blockingCodes: ReadonlySet<DatasetIssueCode> = new Set([
  'missing-prompts',
  'mixed-formats',
  'empty-class',
  'malformed-json',
  'malformed-row',
  // A pair that does not differ contributes nothing but noise to mean_diff and pca_diff; validate
  // reports it as an error, so extraction refuses it too.
  'identical-pair',
  'file-too-large',
  'invalid-encoding',
  'binary-content',
  'line-too-long',
]);

export function isBlockingDatasetIssue(issue: DatasetIssue): boolean {
  return blockingCodes.has(issue.code);
}

/** The study aims for ~150 pairs; below this the last-20% validation split is too small to mean much. */
const fewPromptsThreshold = 20;
const fewSteeringQuestionsThreshold = 15;

const fileNames = { text: 'txt', jsonl: 'jsonl' } as const;

/**
 * Reads and checks a trait folder in the study's format: `positive.txt`/`negative.txt` (one prefix per
 * line) or `positive.jsonl`/`negative.jsonl` (rows `{"prompt", "system_prompt"?}`), `definition.txt`
 * (HIGH / LOW / Key rubric) and `steering.json` (`{"questions": [...], "eval_prompt"?}`). Never throws
 * for content problems: they come back as issues with file and line.
 */
export async function validateTraitDataset(
  directory: string,
  options: ValidateTraitDatasetOptions = {},
): Promise<TraitDatasetValidation> {
  const folder = resolve(directory);
  const entries = await readFolder(folder);
  const limits: DatasetTextLimits = { ...defaultDatasetTextLimits, ...options.limits };
  const issues: DatasetIssue[] = [];
  const report: Report = ({ line, column, ...found }) => {
    const issue: DatasetIssue = found;
    if (line !== undefined) issue.line = line;
    if (column !== undefined) issue.column = column;
    issues.push(issue);
  };

  const variant = chooseVariant(entries, options.variant ?? 'auto', report);
  const texts: { name: string; text: string }[] = [];
  const readClass = async (label: 'positive' | 'negative'): Promise<TraitPrompt[] | undefined> => {
    if (!variant) return undefined;
    const file = `${label}.${fileNames[variant]}`;
    if (!entries.has(file)) {
      const other = `${label}.${fileNames[variant === 'text' ? 'jsonl' : 'text']}`;
      report({
        severity: 'error',
        code: 'missing-prompts',
        file,
        message: `missing ${file}${entries.has(other) ? ` (found ${other}, which is the other format)` : ''}: a trait data set needs one prompt file per class.`,
      });
      return undefined;
    }
    const text = await readText(folder, file, limits, report);
    if (text === undefined) return undefined;
    texts.push({ name: file, text });
    const prompts =
      variant === 'text' ? parseTextPrompts(file, text, report) : parseJsonlPrompts(file, text, report);
    if (prompts && prompts.length === 0)
      report({ severity: 'error', code: 'empty-class', file, message: `${file} has no prompts.` });
    return prompts;
  };
  const positive = await readClass('positive');
  const negative = await readClass('negative');
  if (positive && negative && variant) checkClasses(variant, positive, negative, report);

  let rubric: TraitRubric | undefined;
  if (!entries.has('definition.txt')) {
    report({
      severity: 'error',
      code: 'missing-rubric',
      file: 'definition.txt',
      message:
        'missing definition.txt: the judge rubric (a "HIGH (70-100):" paragraph, a "LOW (0-40):" paragraph and a "Key:" line) is needed for vetting and steering.',
    });
  } else {
    const raw = await readText(folder, 'definition.txt', limits, report);
    if (raw !== undefined) {
      const text = stripBom(raw);
      texts.push({ name: 'definition.txt', text });
      rubric = checkRubric(text, report);
    }
  }

  let steering: TraitSteeringQuestions | undefined;
  if (!entries.has('steering.json')) {
    report({
      severity: 'error',
      code: 'missing-steering',
      file: 'steering.json',
      message:
        'missing steering.json: add {"questions": [...]} with 15-20 questions whose unsteered answers score low on the trait.',
    });
  } else {
    const raw = await readText(folder, 'steering.json', limits, report);
    if (raw !== undefined) steering = checkSteering(stripBom(raw), report);
  }

  const blocked = issues.some(isBlockingDatasetIssue);
  if (blocked || !positive || !negative || !variant) return { directory: folder, dataset: undefined, issues };
  const category = basename(dirname(folder));
  const trait = basename(folder);
  const dataset: TraitDataset = {
    directory: folder,
    name: `${category}/${trait}`,
    category,
    trait,
    variant,
    positive,
    negative,
    hash: computeDatasetHash(texts),
    issues,
  };
  if (rubric) dataset.rubric = rubric;
  if (steering) dataset.steering = steering;
  return { directory: folder, dataset, issues };
}

/** Records one issue; `line` and `column` may be undefined (not known). */
type Report = (
  issue: Omit<DatasetIssue, 'line' | 'column'> & { line?: number | undefined; column?: number | undefined },
) => void;

async function readFolder(folder: string): Promise<Set<string>> {
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `Trait data set folder ${folder} does not exist or is not a folder; pass datasets/traits/<category>/<trait>.`,
      {
        details: { file: folder },
      },
    );
  }
  return new Set(await readdir(folder));
}

/** The file's text, or undefined after reporting why it is not a usable text file (a blocking issue). */
async function readText(
  folder: string,
  file: string,
  limits: DatasetTextLimits,
  report: Report,
): Promise<string | undefined> {
  const { text, problem } = await readDatasetText(join(folder, file), file, limits);
  if (problem)
    report({ severity: 'error', code: problem.code, file, message: problem.message, line: problem.line });
  return text;
}

function stripBom(text: string): string {
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

function chooseVariant(
  entries: Set<string>,
  requested: TraitDatasetVariant | 'auto',
  report: Report,
): TraitDatasetVariant | undefined {
  if (requested !== 'auto') return requested;
  const text = entries.has('positive.txt') && entries.has('negative.txt');
  const jsonl = entries.has('positive.jsonl') && entries.has('negative.jsonl');
  if (text && jsonl) {
    report({
      severity: 'warning',
      code: 'both-formats',
      file: 'positive.txt',
      message:
        'both positive.txt/negative.txt and positive.jsonl/negative.jsonl exist; using the .txt files (ask for the jsonl variant to use the others).',
    });
    return 'text';
  }
  if (text) return 'text';
  if (jsonl) return 'jsonl';
  const positive = entries.has('positive.txt')
    ? 'positive.txt'
    : entries.has('positive.jsonl')
      ? 'positive.jsonl'
      : undefined;
  const negative = entries.has('negative.txt')
    ? 'negative.txt'
    : entries.has('negative.jsonl')
      ? 'negative.jsonl'
      : undefined;
  if (positive && negative) {
    report({
      severity: 'error',
      code: 'mixed-formats',
      file: positive,
      message: `${positive} and ${negative} use different formats; use .txt (one prefix per line) or .jsonl (one {"prompt", "system_prompt"} object per line) for both classes.`,
    });
    return undefined;
  }
  if (!positive && !negative) {
    report({
      severity: 'error',
      code: 'missing-prompts',
      file: 'positive.txt',
      message:
        'no positive.txt/negative.txt (or positive.jsonl/negative.jsonl): this folder is not a trait data set.',
    });
    return undefined;
  }
  return positive?.endsWith('.jsonl') || negative?.endsWith('.jsonl') ? 'jsonl' : 'text';
}

/** Splits into lines, reporting blank lines: inside the file an error (it breaks the pairing), at the end a warning. */
function splitPromptLines(file: string, text: string, report: Report): { line: number; content: string }[] {
  const lines = stripBom(text).split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // the final newline ends the last line
  let end = lines.length;
  while (end > 0 && lines[end - 1]!.trim() === '') end--;
  const trailing = lines.length - end;
  if (trailing > 0) {
    report({
      severity: 'warning',
      code: 'trailing-blank-lines',
      file,
      message: `${file} ends with ${trailing} blank line${trailing === 1 ? '' : 's'}; remove ${trailing === 1 ? 'it' : 'them'}.`,
      line: end + 1,
    });
  }
  const kept: { line: number; content: string }[] = [];
  for (let i = 0; i < end; i++) {
    const content = lines[i]!;
    if (content.trim() === '') {
      report({
        severity: 'error',
        code: 'empty-line',
        file,
        message: `line ${i + 1} is empty; remove it (one prompt per line, and a blank line shifts the positive/negative pairing).`,
        line: i + 1,
      });
    } else {
      kept.push({ line: i + 1, content });
    }
  }
  return kept;
}

function parseTextPrompts(file: string, text: string, report: Report): TraitPrompt[] {
  const prompts = splitPromptLines(file, text, report).map(({ line, content }, index) => ({
    index,
    text: content,
    line,
  }));
  reportTrailingWhitespace(file, prompts, report);
  reportDuplicates(file, prompts, report);
  return prompts;
}

function parseJsonlPrompts(file: string, text: string, report: Report): TraitPrompt[] | undefined {
  const prompts: TraitPrompt[] = [];
  let broken = false;
  for (const { line, content } of splitPromptLines(file, text, report)) {
    let row: unknown;
    try {
      row = JSON.parse(content);
    } catch {
      const location = locateJsonSyntaxError(content);
      report({
        severity: 'error',
        code: 'malformed-json',
        file,
        message: `line ${line} is not valid JSON: ${location?.reason ?? 'syntax error'}${location ? ` at column ${location.column}` : ''}.`,
        line,
        column: location?.column,
      });
      broken = true;
      continue;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      report({
        severity: 'error',
        code: 'malformed-row',
        file,
        message: `line ${line} must be a JSON object {"prompt": "...", "system_prompt": "..."}.`,
        line,
      });
      broken = true;
      continue;
    }
    const record = row as Record<string, unknown>;
    if (typeof record.prompt !== 'string' || record.prompt.trim() === '') {
      report({
        severity: 'error',
        code: 'malformed-row',
        file,
        message: `line ${line} needs a non-empty string "prompt".`,
        line,
      });
      broken = true;
      continue;
    }
    const systemPrompt = record.system_prompt;
    if (systemPrompt !== undefined && systemPrompt !== null && typeof systemPrompt !== 'string') {
      report({
        severity: 'error',
        code: 'malformed-row',
        file,
        message: `line ${line}: "system_prompt" must be a string.`,
        line,
      });
      broken = true;
      continue;
    }
    for (const key of Object.keys(record)) {
      if (key !== 'prompt' && key !== 'system_prompt')
        report({
          severity: 'warning',
          code: 'unknown-key',
          file,
          message: `line ${line}: unknown key "${key}" is ignored (rows have "prompt" and optionally "system_prompt").`,
          line,
        });
    }
    const prompt: TraitPrompt = { index: prompts.length, text: record.prompt, line };
    if (typeof systemPrompt === 'string') prompt.systemPrompt = systemPrompt;
    prompts.push(prompt);
  }
  if (broken) return undefined;
  reportDuplicates(file, prompts, report);
  return prompts;
}

function reportTrailingWhitespace(file: string, prompts: readonly TraitPrompt[], report: Report): void {
  const lines = prompts.filter((prompt) => /\s$/.test(prompt.text)).map((prompt) => prompt.line);
  if (lines.length === 0) return;
  const listed =
    lines.length <= 5
      ? formatList(lines.map(String))
      : `${lines.slice(0, 5).join(', ')} and ${lines.length - 5} more`;
  report({
    severity: 'warning',
    code: 'trailing-whitespace',
    file,
    message: `line${lines.length === 1 ? '' : 's'} ${listed} end${lines.length === 1 ? 's' : ''} with whitespace; a trailing space changes tokenisation (the next word normally brings its own leading space).`,
    line: lines[0],
  });
}

function reportDuplicates(file: string, prompts: readonly TraitPrompt[], report: Report): void {
  const seen = new Map<string, number>();
  for (const prompt of prompts) {
    const key = `${prompt.systemPrompt ?? ''}\u0000${prompt.text}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, prompt.line);
    else
      report({
        severity: 'error',
        code: 'duplicate-prompt',
        file,
        message: `line ${prompt.line} repeats line ${first}; remove the duplicate (a repeated prompt counts twice in the class mean).`,
        line: prompt.line,
      });
  }
}

function checkClasses(
  variant: TraitDatasetVariant,
  positive: readonly TraitPrompt[],
  negative: readonly TraitPrompt[],
  report: Report,
): void {
  const positiveFile = `positive.${fileNames[variant]}`;
  const negativeFile = `negative.${fileNames[variant]}`;
  const pairs = Math.min(positive.length, negative.length);
  for (let i = 0; i < pairs; i++) {
    const p = positive[i]!;
    const n = negative[i]!;
    if (p.text === n.text && (p.systemPrompt ?? '') === (n.systemPrompt ?? '')) {
      report({
        severity: 'error',
        code: 'identical-pair',
        file: positiveFile,
        message: `line ${p.line} is identical to line ${n.line} of ${negativeFile}; a pair must differ in its trait-relevant words.`,
        line: p.line,
      });
    }
  }
  if (positive.length > 0 && negative.length > 0 && positive.length !== negative.length) {
    report({
      severity: 'warning',
      code: 'unbalanced-classes',
      file: positiveFile,
      message: `classes differ in size: ${positive.length} positive vs ${negative.length} negative prompts (fine for mean_diff and probe; pca_diff pairs only the first ${pairs} of each).`,
    });
  }
  for (const [file, prompts] of [
    [positiveFile, positive],
    [negativeFile, negative],
  ] as const) {
    if (prompts.length > 0 && prompts.length < fewPromptsThreshold) {
      report({
        severity: 'warning',
        code: 'few-prompts',
        file,
        message: `only ${prompts.length} prompt${prompts.length === 1 ? '' : 's'}; the validation split (last 20%) would hold ${Math.ceil(prompts.length * 0.2)} — aim for 100+ (the study used ~150 pairs).`,
      });
    }
  }
}

function checkRubric(text: string, report: Report): TraitRubric | undefined {
  const parsed = parseRubric(text.replace(/\r\n?/g, '\n'));
  if (parsed.high === undefined)
    report({
      severity: 'error',
      code: 'incomplete-rubric',
      file: 'definition.txt',
      message:
        'definition.txt has no HIGH paragraph: start one with "HIGH (70-100):" describing a response that strongly shows the trait.',
    });
  if (parsed.low === undefined)
    report({
      severity: 'error',
      code: 'incomplete-rubric',
      file: 'definition.txt',
      message:
        'definition.txt has no LOW paragraph: start one with "LOW (0-40):" describing a response without the trait.',
    });
  if (parsed.key === undefined)
    report({
      severity: 'error',
      code: 'incomplete-rubric',
      file: 'definition.txt',
      message:
        'definition.txt has no "Key:" line: add one line "Key: ..." (or "Key distinction: ...") naming the distinction the judge should focus on.',
    });
  if (parsed.high === undefined || parsed.low === undefined || parsed.key === undefined) return undefined;
  return { text: parsed.text, high: parsed.high, low: parsed.low, key: parsed.key };
}

function checkSteering(text: string, report: Report): TraitSteeringQuestions | undefined {
  const file = 'steering.json';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const location = locateJsonSyntaxError(text);
    report({
      severity: 'error',
      code: 'malformed-steering',
      file,
      message: `steering.json is not valid JSON: ${location?.reason ?? 'syntax error'}.`,
      line: location?.line,
      column: location?.column,
    });
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report({
      severity: 'error',
      code: 'malformed-steering',
      file,
      message: 'steering.json must be an object {"questions": [...], "eval_prompt"?: "..."}.',
    });
    return undefined;
  }
  const record = value as Record<string, unknown>;
  if (!Array.isArray(record.questions)) {
    report({
      severity: 'error',
      code: 'malformed-steering',
      file,
      message: `steering.json needs a "questions" array of strings (${record.questions === undefined ? 'it is missing' : `got ${typeof record.questions}`}).`,
    });
    return undefined;
  }
  const questions: string[] = [];
  let valid = true;
  record.questions.forEach((question, index) => {
    if (typeof question !== 'string' || question.trim() === '') {
      report({
        severity: 'error',
        code: 'malformed-steering',
        file,
        message: `questions[${index}] must be a non-empty string.`,
        line: findLineOf(text, JSON.stringify(question)),
      });
      valid = false;
    } else {
      questions.push(question);
    }
  });
  if (record.questions.length === 0) {
    report({
      severity: 'error',
      code: 'malformed-steering',
      file,
      message: 'steering.json has no questions; add 15-20 whose unsteered answers score low on the trait.',
    });
    valid = false;
  }
  if (record.eval_prompt !== undefined && typeof record.eval_prompt !== 'string') {
    report({
      severity: 'error',
      code: 'malformed-steering',
      file,
      message: '"eval_prompt" must be a string when present.',
    });
    valid = false;
  }
  const seen = new Set<string>();
  questions.forEach((question, index) => {
    if (seen.has(question))
      report({
        severity: 'warning',
        code: 'duplicate-steering-question',
        file,
        message: `questions[${index}] repeats an earlier question.`,
        line: findLineOf(text, JSON.stringify(question), 2),
      });
    seen.add(question);
  });
  if (questions.length > 0 && questions.length < fewSteeringQuestionsThreshold) {
    report({
      severity: 'warning',
      code: 'few-steering-questions',
      file,
      message: `only ${questions.length} steering question${questions.length === 1 ? '' : 's'}; 15-20 give a stable steering score.`,
    });
  }
  if (!valid) return undefined;
  const steering: TraitSteeringQuestions = { questions };
  if (typeof record.eval_prompt === 'string') steering.evalPrompt = record.eval_prompt;
  return steering;
}

/** 1-based line of the `occurrence`-th appearance of `needle`, for pointing at a JSON element. */
function findLineOf(text: string, needle: string, occurrence = 1): number | undefined {
  let position = -1;
  for (let i = 0; i < occurrence; i++) {
    position = text.indexOf(needle, position + 1);
    if (position < 0) return undefined;
  }
  return text.slice(0, position).split('\n').length;
}

function formatList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
