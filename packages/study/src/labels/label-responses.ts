import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CapturedResponse, PromptSet } from '@traitlens/capture';
import { inferencePaths, readCapturedResponse } from '@traitlens/capture/internal';
import {
  formatWorkShard,
  isUnitInShard,
  type Judge,
  type JudgeRequest,
  removeStaleTemporaryFiles,
  TraitlensError,
  type WorkShard,
  writeJsonAtomic,
} from '@traitlens/core';
import { findKeywordSpans } from './find-keyword-spans';
import { createGroupRubric } from './group-rubric';
import { type PromptAnnotation, readSpanAnnotations } from './read-span-annotations';

/** How a label was made. */
export type LabelMethod = 'judge' | 'keywords' | 'field';

/** One labelled response. */
export interface LabelDetail {
  /** The key analysis uses: the prompt id, or `<prompt set>/<prompt id>` with several sets. */
  key: string;
  promptSet: string;
  promptId: string;
  /** The prompt's group (a prompt-set entry's `bias_id`), or null. */
  group: number | null;
  label: 0 | 1;
  /** Judge score 0-100 (judge labelling) or null. */
  score: number | null;
  /** Keywords found (keyword labelling). */
  matches: string[];
  /** sha256 of the response token ids: a regenerated response is labelled again. */
  responseHash: string;
}

/** `<experiment>/labels/labels.json`. */
export interface LabelsFile {
  format: 'traitlens.labels';
  formatVersion: '1';
  method: LabelMethod;
  judge: string | null;
  threshold: number | null;
  /** The prompt-set field labels came from (field labelling). */
  field: string | null;
  /** key -> 0/1, the shape analysis reads. */
  labels: Record<string, 0 | 1>;
  details: LabelDetail[];
}

/** Where labels go: `<experiment>/labels/{labels,annotations}.json` (the token spans analysis reads). */
export function labelPaths(experimentDirectory: string): { labels: string; annotations: string } {
  const root = join(experimentDirectory, 'labels');
  return { labels: join(root, 'labels.json'), annotations: join(root, 'annotations.json') };
}

/** How responses get their labels. Keyword lists are keyed by prompt group id (`bias_id`) or "*" (all). */
export type LabelSource =
  | { kind: 'keywords'; keywords: Readonly<Record<string, readonly string[]>> }
  | {
      kind: 'field';
      /** A prompt-set entry field: true/false or 0/1, or a response text matched against `keywords`. */
      field: string;
      keywords?: Readonly<Record<string, readonly string[]>>;
    }
  | {
      kind: 'judge';
      judge: Judge;
      /** Names the judge in labels.json; stored scores of another judge are not reused. */
      judgeId: string;
      /** Score at or above which a response is labelled 1. */
      threshold: number;
      /** Rubric template with `{description}` (default createGroupRubric's). */
      rubric?: string;
      /** What the judge is told it scores. */
      behaviour?: string;
    };

export interface LabelResponsesOptions {
  /** The experiment folder holding `inference/<variant>/<prompt set>/responses`. */
  experiment: string;
  /** The variant whose generated responses are labelled. */
  variant: string;
  promptSets: readonly PromptSet[];
  source: LabelSource;
  /** Hand-made token spans (parseSpanAnnotations' formats), copied into annotations.json. */
  annotationsFile?: string | undefined;
  /** Judge again every response, ignoring scores stored by an earlier run. */
  force?: boolean | undefined;
  /**
   * Judge only this shard's responses (by a hash of `<prompt set>/<prompt id>`, as capture splits them)
   * and store the scores in `labels/shards/<index>-of-<count>.json`, not labels.json; the unsharded run
   * afterwards merges every shard's scores into labels.json without asking the judge again.
   */
  shard?: WorkShard | undefined;
  /** Judged responses so far, after each chunk (instead of a log line per chunk). */
  onProgress?: ((done: number, total: number) => void) | undefined;
  log?: ((line: string) => void) | undefined;
}

export interface LabelResponsesResult {
  method: LabelMethod;
  labelsFile: string;
  /** Written when any spans exist (keyword matches or a given annotation file). */
  annotationsFile: string | null;
  labelled: number;
  positive: number;
  /** Responses without a label (no group description for the judge, no field, a judge failure). */
  unlabelled: number;
  byGroup: Record<string, { labelled: number; positive: number }>;
}

function hashIds(ids: readonly number[]): string {
  return createHash('sha256').update(JSON.stringify(ids)).digest('hex').slice(0, 16);
}

function createLabelsFile(
  method: LabelMethod,
  settings: { judge: string | null; threshold: number | null; field: string | null },
  rows: LabelDetail[],
): LabelsFile {
  return {
    format: 'traitlens.labels',
    formatVersion: '1',
    method,
    ...settings,
    labels: Object.fromEntries(rows.map((row) => [row.key, row.label])),
    details: rows,
  };
}

async function readShardFiles(folder: string): Promise<Array<LabelsFile | undefined>> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => /^\d+-of-\d+\.json$/.test(name)).sort();
  } catch {
    return [];
  }
  return Promise.all(names.map((name) => readExisting(join(folder, name))));
}

async function readExisting(path: string): Promise<LabelsFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LabelsFile;
  } catch {
    return undefined;
  }
}

/** A prompt-set field as a label: booleans and 0/1 are labels; a string is labelled by the keywords. */
function labelFromField(
  value: unknown,
  words: readonly string[],
  where: string,
): { label: 0 | 1; matches: string[] } | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return { label: value ? 1 : 0, matches: [] };
  if (value === 0 || value === 1) return { label: value, matches: [] };
  if (typeof value === 'string') {
    if (words.length === 0)
      throw new TraitlensError(
        'INVALID_CONFIG',
        `${where} is text; add stages.label.keywords to say which words make it a 1 (or use a boolean field).`,
      );
    const matches = words.filter((word) => findKeywordSpans([value], [word]).spans.length > 0);
    return { label: matches.length > 0 ? 1 : 0, matches: matches.map((word) => word.trim()) };
  }
  throw new TraitlensError(
    'INVALID_DATASET',
    `${where} is ${JSON.stringify(value)}; a label field holds true/false, 0/1 or a response text.`,
  );
}

/** A captured response to label, under the key analysis uses. */
interface LabelEntry {
  key: string;
  promptSet: string;
  record: CapturedResponse;
}

type Keywords = Readonly<Record<string, readonly string[]>>;
type JudgeSource = Extract<LabelSource, { kind: 'judge' }>;
type LabelsFileSettings = { judge: string | null; threshold: number | null; field: string | null };

/** Every captured response of the variant (this shard's only, with a shard); fails when there is none. */
async function readLabelEntries(options: LabelResponsesOptions): Promise<LabelEntry[]> {
  const { variant } = options;
  const responses: LabelEntry[] = [];
  for (const set of options.promptSets) {
    const paths = inferencePaths(options.experiment, variant, set.id);
    for (const prompt of set.prompts) {
      if (!isUnitInShard(`${set.id}/${prompt.id}`, options.shard)) continue;
      const record = await readCapturedResponse(paths.responseFile(prompt.id));
      if (!record) continue;
      responses.push({
        key: options.promptSets.length > 1 ? `${set.id}/${prompt.id}` : prompt.id,
        promptSet: set.id,
        record,
      });
    }
  }
  if (responses.length === 0) {
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `No responses of variant "${variant}" under ${join(options.experiment, 'inference', variant)}; capture them first (traitlens capture, or the capture stage of traitlens run).`,
      { details: { file: join(options.experiment, 'inference', variant) } },
    );
  }
  return responses;
}

function labelDetail(
  entry: LabelEntry,
  made: { label: 0 | 1; score: number | null; matches: string[] },
): LabelDetail {
  return {
    key: entry.key,
    promptSet: entry.promptSet,
    promptId: entry.record.promptId,
    group: entry.record.biasId ?? null,
    label: made.label,
    score: made.score,
    matches: made.matches,
    responseHash: hashIds(entry.record.responseTokenIds),
  };
}

/** The words that label an entry: those for every group ("*") and those for its own group. */
function keywordsFor(entry: LabelEntry, keywords: Keywords | undefined): string[] {
  return [
    ...(keywords?.['*'] ?? []),
    ...(entry.record.biasId === undefined ? [] : (keywords?.[String(entry.record.biasId)] ?? [])),
  ];
}

/** Keyword labels; each match's tokens become a span in `annotations`. */
function labelByKeywords(
  responses: readonly LabelEntry[],
  keywords: Keywords,
  annotations: Record<string, PromptAnnotation>,
): LabelDetail[] {
  return responses.map((entry) => {
    const { spans, matches } = findKeywordSpans(entry.record.responseTokens, keywordsFor(entry, keywords));
    annotations[entry.key] = {
      exploitations: spans.map((tokens) => ({ tokens, text: matches.join(', ') })),
    };
    return labelDetail(entry, { label: spans.length > 0 ? 1 : 0, score: null, matches });
  });
}

/** Labels from a prompt-set field; prompts without it stay unlabelled (one warning line). */
function labelByField(
  responses: readonly LabelEntry[],
  source: Extract<LabelSource, { kind: 'field' }>,
  log: (line: string) => void,
): LabelDetail[] {
  const details: LabelDetail[] = [];
  let missing = 0;
  for (const entry of responses) {
    const labelled = labelFromField(
      entry.record.promptFields?.[source.field],
      keywordsFor(entry, source.keywords),
      `prompt ${entry.key} field "${source.field}"`,
    );
    if (!labelled) {
      missing++;
      continue;
    }
    details.push(labelDetail(entry, { label: labelled.label, score: null, matches: labelled.matches }));
  }
  if (missing > 0) log(`  warning: ${missing} prompts have no "${source.field}" field and stay unlabelled`);
  return details;
}

/** Scores stored earlier by this judge (labels.json and, from sharded runs, labels/shards/*.json), by key. */
async function readStoredScores(options: {
  judgeId: string;
  labelsFile: string;
  shardFile: string | undefined;
}): Promise<Map<string, LabelDetail>> {
  const { shardFile, labelsFile } = options;
  const stored = [
    await readExisting(shardFile ?? labelsFile),
    ...(shardFile ? [] : await readShardFiles(join(dirname(labelsFile), 'shards'))),
  ];
  return new Map(
    stored
      .flatMap((file) => (file?.method === 'judge' && file.judge === options.judgeId ? file.details : []))
      .map((detail) => [detail.key, detail]),
  );
}

/** One judge request per response of a chunk, against its group's description. */
async function scoreChunk(
  chunk: readonly (LabelEntry & { description: string })[],
  source: JudgeSource,
): Promise<(number | null)[]> {
  return Promise.all(
    chunk.map((entry) => {
      const request: JudgeRequest = {
        kind: 'trait',
        trait: source.behaviour ?? 'the described behaviour',
        rubric: createGroupRubric(entry.description, source.rubric),
        question: entry.record.promptSetText,
        response: entry.record.responseText,
      };
      return source.judge.score(request);
    }),
  );
}

/**
 * Judge labels: scores stored for an unchanged response are reused; the rest are judged in chunks, each
 * saved at once (to the shard's file with a shard), so an interrupted run loses little.
 */
async function labelByJudge(options: {
  responses: readonly LabelEntry[];
  source: JudgeSource;
  labelsOptions: LabelResponsesOptions;
  labelsFile: string;
  shardFile: string | undefined;
  fileSettings: LabelsFileSettings;
  log: (line: string) => void;
}): Promise<LabelDetail[]> {
  const { responses, source, shardFile, log } = options;
  const { force, onProgress } = options.labelsOptions;
  const done = force
    ? new Map<string, LabelDetail>()
    : await readStoredScores({ judgeId: source.judgeId, labelsFile: options.labelsFile, shardFile });
  const pending = responses.filter((entry) => {
    const previous = done.get(entry.key);
    return !(previous && previous.responseHash === hashIds(entry.record.responseTokenIds));
  });
  const unscorable = pending.filter((entry) => !entry.record.biasDescription);
  if (unscorable.length > 0)
    log(
      `  warning: ${unscorable.length} prompts have no group description (bias_description) and stay unlabelled (e.g. ${unscorable[0]?.key})`,
    );
  const scorable = pending.flatMap((entry) =>
    entry.record.biasDescription ? [{ ...entry, description: entry.record.biasDescription }] : [],
  );
  log(`  judging ${scorable.length} responses (${responses.length - pending.length} labelled earlier)`);
  // Chunks keep the judge's concurrency busy and save progress, so an interrupted run loses little.
  for (let start = 0; start < scorable.length; start += 32) {
    const chunk = scorable.slice(start, start + 32);
    const scores = await scoreChunk(chunk, source);
    chunk.forEach((entry, index) => {
      const score = scores[index] ?? null;
      if (score === null) return;
      done.set(
        entry.key,
        labelDetail(entry, { label: score >= source.threshold ? 1 : 0, score, matches: [] }),
      );
    });
    const all = [...done.values()].sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
    await writeJsonAtomic(
      shardFile ?? options.labelsFile,
      createLabelsFile('judge', options.fileSettings, all),
    );
    if (onProgress) onProgress(Math.min(start + chunk.length, scorable.length), scorable.length);
    else log(`    ${Math.min(start + chunk.length, scorable.length)}/${scorable.length}`);
  }
  const keys = new Set(responses.map((entry) => entry.key));
  // Labels follow the current threshold, also for scores stored by an earlier run.
  return [...done.values()]
    .filter((detail) => keys.has(detail.key))
    .map((detail) => ({ ...detail, label: ((detail.score ?? 0) >= source.threshold ? 1 : 0) as 0 | 1 }));
}

/** Responses labelled and labelled 1 per prompt group (`none` for prompts without one). */
function countByGroup(details: readonly LabelDetail[]): LabelResponsesResult['byGroup'] {
  const byGroup: LabelResponsesResult['byGroup'] = {};
  for (const detail of details) {
    const entry = (byGroup[String(detail.group ?? 'none')] ??= { labelled: 0, positive: 0 });
    entry.labelled++;
    entry.positive += detail.label;
  }
  return byGroup;
}

/**
 * Labels every generated response of a variant 1 or 0 for detection and predictivity: by an LLM judge
 * reading the prompt group's description (`bias_description`), by keywords (which also give token spans),
 * or from a field of the prompt-set entries. Hand-made span annotations are normalised into
 * annotations.json for the token view of the model diff. Judge scores are saved in chunks and reused on a
 * rerun while the response is unchanged.
 */
export async function labelResponses(options: LabelResponsesOptions): Promise<LabelResponsesResult> {
  const { source } = options;
  const log = options.log ?? (() => {});
  const responses = await readLabelEntries(options);
  const paths = labelPaths(options.experiment);
  // Temporary files of a labelling run that was killed are no one's now (a live writer's are kept).
  await removeStaleTemporaryFiles(dirname(paths.labels), { recursive: true });
  const shardFile = options.shard
    ? join(dirname(paths.labels), 'shards', `${formatWorkShard(options.shard).replace('/', '-of-')}.json`)
    : undefined;
  const fileSettings: LabelsFileSettings = {
    judge: source.kind === 'judge' ? source.judgeId : null,
    threshold: source.kind === 'judge' ? source.threshold : null,
    field: source.kind === 'field' ? source.field : null,
  };
  const annotations: Record<string, PromptAnnotation> = {};
  const details =
    source.kind === 'keywords'
      ? labelByKeywords(responses, source.keywords, annotations)
      : source.kind === 'field'
        ? labelByField(responses, source, log)
        : await labelByJudge({
            responses,
            source,
            labelsOptions: options,
            labelsFile: paths.labels,
            shardFile,
            fileSettings,
            log,
          });
  if (options.annotationsFile) {
    // Hand-made spans win over keyword spans of the same prompt; keys are prompt ids as in the file.
    const given = await readSpanAnnotations(options.annotationsFile);
    for (const [id, annotation] of given) annotations[id] = annotation;
    log(`  ${given.size} annotated responses from ${options.annotationsFile}`);
  }
  details.sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  if (options.shard && shardFile) {
    // A shard's scores wait in its own file for the unsharded run, which writes labels.json.
    await writeJsonAtomic(shardFile, createLabelsFile(source.kind, fileSettings, details));
    log(`  shard ${formatWorkShard(options.shard)}: ${details.length} responses scored into ${shardFile}`);
    return {
      method: source.kind,
      labelsFile: shardFile,
      annotationsFile: null,
      labelled: details.length,
      positive: details.filter((detail) => detail.label === 1).length,
      unlabelled: responses.length - details.length,
      byGroup: {},
    };
  }
  // labels.json last: it is what later stages look for, so it marks a finished labelling.
  const hasAnnotations = Object.keys(annotations).length > 0;
  if (hasAnnotations) await writeJsonAtomic(paths.annotations, annotations);
  await writeJsonAtomic(paths.labels, createLabelsFile(source.kind, fileSettings, details));
  const positive = details.filter((detail) => detail.label === 1).length;
  log(`  ${details.length} responses labelled, ${positive} labelled 1`);
  return {
    method: source.kind,
    labelsFile: paths.labels,
    annotationsFile: hasAnnotations ? paths.annotations : null,
    labelled: details.length,
    positive,
    unlabelled: responses.length - details.length,
    byGroup: countByGroup(details),
  };
}
