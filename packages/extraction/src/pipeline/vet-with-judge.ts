import { readFile } from 'node:fs/promises';
import { type Judge, type JudgeRequest, TraitlensError, writeJsonAtomic } from '@traitlens/core';
import type { TraitPolarity } from './extraction-progress';

/** docs/study-method.md §3.3: keep positives scoring >= 60 and negatives <= 40; warn on a weak data set. */
export interface VettingThresholds {
  positiveMinimum: number;
  negativeMaximum: number;
  /** Warn when a class keeps less than this share. */
  passRateWarning: number;
  /** Warn when mean positive score - mean negative score is below this. */
  separationWarning: number;
  /** Judge calls in flight at once. */
  concurrency: number;
}

export const defaultVettingThresholds: VettingThresholds = {
  positiveMinimum: 60,
  negativeMaximum: 40,
  passRateWarning: 0.7,
  separationWarning: 20,
  concurrency: 8,
};

export interface VettingItem {
  id: string;
  polarity: TraitPolarity;
  request: JudgeRequest;
}

export interface VettingScore {
  id: string;
  polarity: TraitPolarity;
  /** 0-100, or null when the judge gave no confident score (counts as failed). */
  score: number | null;
  passed: boolean;
}

export interface VettingClassSummary {
  count: number;
  passed: number;
  passRate: number;
  /** Mean of the non-null scores (null when there were none). */
  meanScore: number | null;
}

export interface VettingSummary {
  judge: string;
  thresholds: { positiveMinimum: number; negativeMaximum: number };
  positive: VettingClassSummary;
  negative: VettingClassSummary;
  /** Mean positive score - mean negative score. */
  separation: number | null;
  warnings: string[];
}

interface VettingFile {
  format: 'traitlens.extraction-vetting';
  formatVersion: '1';
  key: string;
  summary: VettingSummary;
  scores: VettingScore[];
}

export interface RunJudgeVettingOptions {
  /** What is vetted, for messages: `scenarios` or `responses`. */
  subject: string;
  judge: Judge;
  items: readonly VettingItem[];
  thresholds: VettingThresholds;
  file: string;
  /** Stage key: items scored under the same key are not asked again. */
  key: string;
  force?: boolean;
  onProgress?: (completed: number, total: number, skipped: boolean) => void;
}

function passes(polarity: TraitPolarity, score: number | null, thresholds: VettingThresholds): boolean {
  if (score === null) return false;
  return polarity === 'positive' ? score >= thresholds.positiveMinimum : score <= thresholds.negativeMaximum;
}

function summariseClass(scores: readonly VettingScore[]): VettingClassSummary {
  const numbers = scores.map((item) => item.score).filter((score): score is number => score !== null);
  const passed = scores.filter((item) => item.passed).length;
  return {
    count: scores.length,
    passed,
    passRate: scores.length > 0 ? passed / scores.length : 0,
    meanScore: numbers.length > 0 ? numbers.reduce((a, b) => a + b, 0) / numbers.length : null,
  };
}

/**
 * Scores items with a judge (a few at a time), saving after every round so an interrupted run keeps its
 * judgements, then summarises pass rates and separation with the study's warnings.
 */
export async function runJudgeVetting(
  options: RunJudgeVettingOptions,
): Promise<{ scores: Map<string, VettingScore>; summary: VettingSummary }> {
  const { thresholds } = options;
  const scores = options.force ? new Map<string, VettingScore>() : await readEarlierScores(options);
  const pending = options.items.filter((item) => !scores.has(item.id));
  const total = options.items.length;
  options.onProgress?.(total - pending.length, total, pending.length === 0);
  const save = async (): Promise<void> => {
    const file: VettingFile = {
      format: 'traitlens.extraction-vetting',
      formatVersion: '1',
      key: options.key,
      summary: summariseVetting(options, scores),
      scores: [...scores.values()],
    };
    await writeJsonAtomic(options.file, file);
  };
  const concurrency = Math.max(1, thresholds.concurrency);
  for (let start = 0; start < pending.length; start += concurrency) {
    const round = pending.slice(start, start + concurrency);
    const results = await Promise.all(round.map((item) => scoreItem(options, { item, save })));
    round.forEach((item, index) => {
      const score = results[index] ?? null;
      scores.set(item.id, {
        id: item.id,
        polarity: item.polarity,
        score,
        passed: passes(item.polarity, score, thresholds),
      });
    });
    await save();
    options.onProgress?.(total - pending.length + start + round.length, total, false);
  }
  if (pending.length === 0) await save();
  return { scores, summary: summariseVetting(options, scores) };
}

/** Judgements saved under the same stage key by an earlier run (none when the file is absent or stale). */
async function readEarlierScores(options: RunJudgeVettingOptions): Promise<Map<string, VettingScore>> {
  const scores = new Map<string, VettingScore>();
  try {
    const previous = JSON.parse(await readFile(options.file, 'utf8')) as VettingFile;
    if (previous.key === options.key) for (const score of previous.scores) scores.set(score.id, score);
  } catch {
    // no earlier judgements
  }
  return scores;
}

/** One judgement; a failing judge first saves what is done, then stops the stage with JUDGE_ERROR. */
async function scoreItem(
  options: RunJudgeVettingOptions,
  work: { item: VettingItem; save: () => Promise<void> },
): Promise<number | null> {
  const { item } = work;
  try {
    return await options.judge.score(item.request);
  } catch (cause) {
    await work.save();
    if (TraitlensError.isInstance(cause)) throw cause;
    throw new TraitlensError(
      'JUDGE_ERROR',
      `Judge ${options.judge.id} failed while vetting ${options.subject} (${item.id}); judgements so far are saved in ${options.file}.`,
      { cause },
    );
  }
}

/** Pass rates and mean scores per class over the items asked for, with the study's warnings. */
function summariseVetting(
  options: RunJudgeVettingOptions,
  scores: ReadonlyMap<string, VettingScore>,
): VettingSummary {
  const { thresholds } = options;
  const relevant = options.items
    .map((item) => scores.get(item.id))
    .filter((score): score is VettingScore => score !== undefined);
  const positive = summariseClass(relevant.filter((score) => score.polarity === 'positive'));
  const negative = summariseClass(relevant.filter((score) => score.polarity === 'negative'));
  const separation =
    positive.meanScore !== null && negative.meanScore !== null
      ? positive.meanScore - negative.meanScore
      : null;
  const warnings: string[] = [];
  for (const [name, part] of [
    ['positive', positive],
    ['negative', negative],
  ] as const) {
    if (part.count > 0 && part.passRate < thresholds.passRateWarning) {
      warnings.push(
        `${options.subject} vetting kept only ${Math.round(part.passRate * 100)}% of ${name} items (${part.passed}/${part.count}; below ${Math.round(thresholds.passRateWarning * 100)}%): the ${name} prompts do not elicit the ${name === 'positive' ? 'trait' : 'opposite'} reliably.`,
      );
    }
  }
  if (separation !== null && separation < thresholds.separationWarning) {
    warnings.push(
      `${options.subject} vetting: mean positive score - mean negative score is ${separation.toFixed(1)} (below ${thresholds.separationWarning}): the classes barely differ by the judge's rubric.`,
    );
  }
  return {
    judge: options.judge.id,
    thresholds: {
      positiveMinimum: thresholds.positiveMinimum,
      negativeMaximum: thresholds.negativeMaximum,
    },
    positive,
    negative,
    separation,
    warnings,
  };
}
