import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError, writeJsonAtomic } from '@traitlens/core';
import type { PromptSet } from '../prompt-set/prompt-set';
import {
  type CapturedResponse,
  readCapturedResponse,
  writeCapturedResponse,
} from '../storage/captured-response';
import { type InferencePaths, inferencePaths } from '../storage/inference-paths';
import { sameTokenIds } from '../storage/inspect-captured-file';
import { assertSameVariantSource } from '../variants/assert-same-variant-source';
import { describeVariant, type LoadedVariant } from '../variants/model-variant';
import { captureBatch } from './capture-batch';
import { type CaptureLockOptions, withCaptureLock } from './capture-lock';
import type { CaptureProgressEvent, CaptureStageSummary, ReplayFailure } from './capture-progress-event';
import {
  type CaptureStorage,
  type CaptureStorageOptions,
  isPromptOutputComplete,
  resolveCaptureStorage,
} from './capture-storage';
import { findReplayMismatch } from './find-replay-mismatch';
import { summarizeStage } from './summarize-stage';

export interface ReplayVariantOptions extends CaptureStorageOptions, CaptureLockOptions {
  experiment: string;
  promptSet: PromptSet;
  /** The variant whose stored responses are replayed (it must have been captured first). */
  sourceVariant: string;
  /** The variant that runs the same token ids (e.g. the clean model). */
  variant: LoadedVariant;
  /** Rows per forward pass (default 8; large rows are split further by `maxCaptureBytes`). */
  batchSize?: number | undefined;
  /** Rewrite every prompt, even complete ones. */
  force?: boolean | undefined;
  maxCaptureBytes?: number | undefined;
  onProgress?: ((event: CaptureProgressEvent) => void) | undefined;
}

/**
 * Model diff (docs/study-method.md §5, step 3): feeds the token ids another variant generated (prompt +
 * response, read from its `responses/<id>.json`, never re-tokenised) through this variant in one forward
 * pass, and writes this variant's activation/projection files and a response record with identical ids
 * and texts under `inference/<variant>/<prompt_set>/`. Prompts the source variant lacks are counted as
 * missing; complete prompts whose ids still match the source are skipped unless `force`.
 */
export async function replayVariant(options: ReplayVariantOptions): Promise<CaptureStageSummary> {
  const paths = inferencePaths(options.experiment, options.variant.name, options.promptSet.id);
  return withCaptureLock(
    {
      stage: 'replay',
      root: paths.root,
      promptIds: options.promptSet.prompts.map((prompt) => prompt.id),
      description: `${options.variant.name}/${options.promptSet.id}`,
      lockWaitMs: options.lockWaitMs,
      onLockWait: options.onLockWait,
    },
    () => replayVariantLocked(options),
  );
}

/** The stage's settings, checked and resolved once. */
interface ReplayRun {
  options: ReplayVariantOptions;
  storage: CaptureStorage;
  sourcePaths: InferencePaths;
  paths: InferencePaths;
  batchSize: number;
}

/** Which prompts replay, which are done, and which the source lacks or this variant cannot read. */
interface ReplayPlan {
  pending: CapturedResponse[];
  skipped: number;
  missing: number;
  failed: ReplayFailure[];
}

async function replayVariantLocked(options: ReplayVariantOptions): Promise<CaptureStageSummary> {
  const started = performance.now();
  const run = planReplay(options);
  const plan = await sortReplayPrompts(run);
  assertSomethingReplays(run, plan);
  await recordFailures(run, plan);
  const { variant, promptSet } = options;
  const { pending, skipped, missing, failed } = plan;
  const total = promptSet.prompts.length;
  const replayable = total - missing - failed.length;
  let done = skipped;
  options.onProgress?.({
    type: 'start',
    stage: 'replay',
    variant: variant.name,
    promptSet: promptSet.id,
    total: replayable,
    skipped,
    missing,
  });
  for (let first = 0; first < pending.length; first += run.batchSize) {
    await captureBatch({
      variant,
      records: pending.slice(first, first + run.batchSize),
      paths: run.paths,
      storage: run.storage,
      maxCaptureBytes: options.maxCaptureBytes,
      beforeWrite: (record) => writeCapturedResponse(run.paths.responseFile(record.promptId), record),
      onWritten: (record) => {
        done++;
        options.onProgress?.({
          type: 'prompt',
          stage: 'replay',
          variant: variant.name,
          promptId: record.promptId,
          done,
          total: replayable,
        });
      },
    });
  }
  return {
    ...summarizeStage({
      stage: 'replay',
      variant,
      promptSet,
      paths: run.paths,
      total,
      skipped,
      written: pending.length,
      generated: 0,
      missing,
      generatedTokens: 0,
      started,
    }),
    failed,
  };
}

function planReplay(options: ReplayVariantOptions): ReplayRun {
  const { variant, promptSet } = options;
  const { model } = variant;
  if (options.sourceVariant === variant.name)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Replay would read and write the same variant "${variant.name}"; replay onto a different variant name.`,
    );
  const storage = resolveCaptureStorage(options, model.config, model.id);
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new TraitlensError('INVALID_ARGUMENT', `batchSize must be a positive integer (got ${batchSize}).`);
  return {
    options,
    storage,
    sourcePaths: inferencePaths(options.experiment, options.sourceVariant, promptSet.id),
    paths: inferencePaths(options.experiment, variant.name, promptSet.id),
    batchSize,
  };
}

async function sortReplayPrompts(run: ReplayRun): Promise<ReplayPlan> {
  const { options } = run;
  const plan: ReplayPlan = { pending: [], skipped: 0, missing: 0, failed: [] };
  for (const prompt of options.promptSet.prompts) {
    const sourceFile = run.sourcePaths.responseFile(prompt.id);
    const source = await readCapturedResponse(sourceFile);
    if (!source) {
      plan.missing++;
      continue;
    }
    if (source.promptId !== prompt.id)
      throw new TraitlensError(
        'INVALID_EXPERIMENT',
        `${sourceFile} holds prompt "${source.promptId}", not "${prompt.id}"; the file was moved or edited. Re-capture variant "${options.sourceVariant}" with --force.`,
        { details: { file: sourceFile } },
      );
    const mismatch = findReplayMismatch(source, options.variant);
    if (mismatch !== undefined) {
      // One unreadable response must not cost the other prompts their replay: record it and go on.
      plan.failed.push({ promptId: prompt.id, reason: mismatch });
      options.onProgress?.({
        type: 'failed',
        stage: 'replay',
        variant: options.variant.name,
        promptId: prompt.id,
        reason: mismatch,
      });
      continue;
    }
    const record = replayRecord(source, options.variant);
    if (await isReplayCurrent(run, source, record)) plan.skipped++;
    else plan.pending.push(record);
  }
  return plan;
}

/** The source's response record as this variant's: same ids and texts, with where they came from. */
function replayRecord(source: CapturedResponse, variant: LoadedVariant): CapturedResponse {
  const { lora: _lora, loraScale: _loraScale, replayOf: _replayOf, ...shared } = source;
  const replayOf: NonNullable<CapturedResponse['replayOf']> = {
    variant: source.variant,
    model: source.model,
  };
  if (source.lora !== undefined) replayOf.lora = source.lora;
  if (source.loraScale !== undefined) replayOf.loraScale = source.loraScale;
  return { ...shared, ...describeVariant(variant), replayOf };
}

/** Whether this variant's stored outputs are complete and carry the source's current ids. */
async function isReplayCurrent(
  run: ReplayRun,
  source: CapturedResponse,
  record: CapturedResponse,
): Promise<boolean> {
  if (run.options.force) return false;
  const file = run.paths.responseFile(source.promptId);
  const stored = await readCapturedResponse(file);
  if (!stored) return false;
  assertSameVariantSource(stored, run.options.variant, file);
  const current =
    sameTokenIds(stored.promptTokenIds, source.promptTokenIds) &&
    sameTokenIds(stored.responseTokenIds, source.responseTokenIds);
  return current && (await isPromptOutputComplete(run.paths, record, run.storage));
}

function assertSomethingReplays(run: ReplayRun, plan: ReplayPlan): void {
  const { options, sourcePaths } = run;
  const total = options.promptSet.prompts.length;
  // A shard may hold no prompt of a small set: nothing to replay is not an error then.
  if (total > 0 && plan.missing === total)
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `Variant "${options.sourceVariant}" has no responses for prompt set "${options.promptSet.id}" in ${sourcePaths.responses}; capture it first (traitlens capture --variant ${options.sourceVariant}), then replay.`,
      { details: { directory: sourcePaths.responses } },
    );
  const [first] = plan.failed;
  if (first && plan.failed.length === total - plan.missing)
    throw new TraitlensError(
      'TOKEN_MISMATCH',
      `No response of variant "${options.sourceVariant}" in ${sourcePaths.responses} can be replayed by ${options.variant.model.id}; e.g. prompt "${first.promptId}": ${first.reason}.`,
      { details: { promptId: first.promptId, failed: plan.failed.length } },
    );
}

/** The failures are kept beside the outputs (and dropped once every prompt replays). */
async function recordFailures(run: ReplayRun, plan: ReplayPlan): Promise<void> {
  const failuresFile = join(run.paths.root, 'replay-failures.json');
  if (plan.failed.length > 0)
    await writeJsonAtomic(failuresFile, { sourceVariant: run.options.sourceVariant, failed: plan.failed });
  else await rm(failuresFile, { force: true });
}
