import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError, writeJsonAtomic } from '@traitlens/core';
import type { PromptSet } from '../prompt-set/prompt-set';
import {
  type CapturedResponse,
  readCapturedResponse,
  writeCapturedResponse,
} from '../storage/captured-response';
import { inferencePaths } from '../storage/inference-paths';
import { sameTokenIds } from '../storage/inspect-captured-file';
import { assertSameVariantSource } from '../variants/assert-same-variant-source';
import { describeVariant, type LoadedVariant } from '../variants/model-variant';
import { type CaptureLockOptions, withCaptureLock } from './capture-lock';
import type { CaptureProgressEvent, CaptureStageSummary, ReplayFailure } from './capture-progress-event';
import {
  type CaptureStorageOptions,
  isPromptOutputComplete,
  resolveCaptureStorage,
  writePromptOutputs,
} from './capture-storage';
import { findReplayMismatch } from './find-replay-mismatch';
import { defaultMaxCaptureBytes, forwardCaptures } from './forward-captures';
import { summarizeStage } from './summarize-stage';

export interface ReplayVariantOptions extends CaptureStorageOptions, CaptureLockOptions {
  experiment: string;
  promptSet: PromptSet;
  /** The variant whose stored responses are replayed (it must have been captured first). */
  sourceVariant: string;
  /** The variant that runs the same token ids (e.g. the clean model). */
  variant: LoadedVariant;
  /** Rows per forward pass (default 8; large rows are split further by `maxCaptureBytes`). */
  batchSize?: number;
  /** Rewrite every prompt, even complete ones. */
  force?: boolean;
  maxCaptureBytes?: number;
  onProgress?: (event: CaptureProgressEvent) => void;
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
    'replay',
    paths.root,
    options.promptSet.prompts.map((prompt) => prompt.id),
    `${options.variant.name}/${options.promptSet.id}`,
    options,
    () => replayVariantLocked(options),
  );
}

async function replayVariantLocked(options: ReplayVariantOptions): Promise<CaptureStageSummary> {
  const started = performance.now();
  const { variant, promptSet } = options;
  const { model } = variant;
  if (options.sourceVariant === variant.name)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Replay would read and write the same variant "${variant.name}"; replay onto a different variant name.`,
    );
  const storage = resolveCaptureStorage(options, model.config, model.id);
  const sourcePaths = inferencePaths(options.experiment, options.sourceVariant, promptSet.id);
  const paths = inferencePaths(options.experiment, variant.name, promptSet.id);
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new TraitlensError('INVALID_ARGUMENT', `batchSize must be a positive integer (got ${batchSize}).`);
  const total = promptSet.prompts.length;
  const pending: CapturedResponse[] = [];
  let skipped = 0;
  let missing = 0;
  const failed: ReplayFailure[] = [];
  for (const prompt of promptSet.prompts) {
    const sourceFile = sourcePaths.responseFile(prompt.id);
    const source = await readCapturedResponse(sourceFile);
    if (!source) {
      missing++;
      continue;
    }
    if (source.promptId !== prompt.id)
      throw new TraitlensError(
        'INVALID_EXPERIMENT',
        `${sourceFile} holds prompt "${source.promptId}", not "${prompt.id}"; the file was moved or edited. Re-capture variant "${options.sourceVariant}" with --force.`,
        { details: { file: sourceFile } },
      );
    const mismatch = findReplayMismatch(source, variant);
    if (mismatch !== undefined) {
      // One unreadable response must not cost the other prompts their replay: record it and go on.
      failed.push({ promptId: prompt.id, reason: mismatch });
      options.onProgress?.({
        type: 'failed',
        stage: 'replay',
        variant: variant.name,
        promptId: prompt.id,
        reason: mismatch,
      });
      continue;
    }
    const { lora: _lora, loraScale: _loraScale, replayOf: _replayOf, ...shared } = source;
    const record: CapturedResponse = {
      ...shared,
      ...describeVariant(variant),
      replayOf: {
        variant: source.variant,
        model: source.model,
        ...(source.lora === undefined ? {} : { lora: source.lora }),
        ...(source.loraScale === undefined ? {} : { loraScale: source.loraScale }),
      },
    };
    if (!options.force) {
      const stored = await readCapturedResponse(paths.responseFile(prompt.id));
      if (stored) {
        assertSameVariantSource(stored, variant, paths.responseFile(prompt.id));
        const current =
          sameTokenIds(stored.promptTokenIds, source.promptTokenIds) &&
          sameTokenIds(stored.responseTokenIds, source.responseTokenIds);
        if (current && (await isPromptOutputComplete(paths, record, storage))) {
          skipped++;
          continue;
        }
      }
    }
    pending.push(record);
  }
  // A shard may hold no prompt of a small set: nothing to replay is not an error then.
  if (total > 0 && missing === total)
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `Variant "${options.sourceVariant}" has no responses for prompt set "${promptSet.id}" in ${sourcePaths.responses}; capture it first (traitlens capture --variant ${options.sourceVariant}), then replay.`,
      { details: { directory: sourcePaths.responses } },
    );
  if (failed.length > 0 && failed.length === total - missing)
    throw new TraitlensError(
      'TOKEN_MISMATCH',
      `No response of variant "${options.sourceVariant}" in ${sourcePaths.responses} can be replayed by ${model.id}; e.g. prompt "${failed[0]!.promptId}": ${failed[0]!.reason}.`,
      { details: { promptId: failed[0]!.promptId, failed: failed.length } },
    );
  // The failures are kept beside the outputs (and dropped once every prompt replays).
  const failuresFile = join(paths.root, 'replay-failures.json');
  if (failed.length > 0)
    await writeJsonAtomic(failuresFile, { sourceVariant: options.sourceVariant, failed });
  else await rm(failuresFile, { force: true });
  let done = skipped;
  options.onProgress?.({
    type: 'start',
    stage: 'replay',
    variant: variant.name,
    promptSet: promptSet.id,
    total: total - missing - failed.length,
    skipped,
    missing,
  });
  for (let first = 0; first < pending.length; first += batchSize) {
    const batch = pending.slice(first, first + batchSize);
    const captures = await forwardCaptures(
      variant,
      batch.map((record) => [...record.promptTokenIds, ...record.responseTokenIds]),
      { capture: storage.capturePoints, project: storage.graphProjections },
      options.maxCaptureBytes ?? defaultMaxCaptureBytes,
      batch.map((record) => record.promptId),
    );
    for (let index = 0; index < batch.length; index++) {
      const record = batch[index]!;
      await writeCapturedResponse(paths.responseFile(record.promptId), record);
      await writePromptOutputs(paths, record, captures[index]!, storage, model.config.hiddenSize);
      done++;
      options.onProgress?.({
        type: 'prompt',
        stage: 'replay',
        variant: variant.name,
        promptId: record.promptId,
        done,
        total: total - missing - failed.length,
      });
    }
  }
  return {
    ...summarizeStage('replay', variant, promptSet, paths, {
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
