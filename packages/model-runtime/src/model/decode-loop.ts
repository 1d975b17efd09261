import type { HookPlan } from '../hooks/hook-plan';
import { type BatchLayout, buildInputIds, buildPrefillPositions } from './batch-layout';
import type { GenerationRows } from './generation-rows';
import type { KeyValueCache } from './kv-cache';
import type { FloatFeeds, GraphRunRequest, GraphRunResult } from './run-decoder-graph';

/** `width` positions per row starting at absolute token `startToken[row]`, of which `validCount[row]` are real. */
export interface TokenWindow {
  width: number;
  startToken: readonly number[];
  validCount: readonly number[];
}

export interface DecodeLoopInput {
  rows: readonly number[][];
  layout: BatchLayout;
  maxNewTokens: number;
  padTokenId: number;
  vocabSize: number;
  plan: HookPlan;
  cache: KeyValueCache;
  generation: GenerationRows;
  /** Steering and LoRA feeds for a window of tokens. */
  windowFeeds(window: TokenWindow): FloatFeeds;
  run(request: GraphRunRequest): Promise<GraphRunResult>;
}

/** The prompt pass: every prompt token at once, logits (or the greedy pick) at each row's last token. */
function prefillRequest(input: DecodeLoopInput): GraphRunRequest {
  const { rows, layout } = input;
  const width = layout.sequenceLength;
  return {
    plan: input.plan,
    phase: 'prefill',
    inputIds: buildInputIds(rows, layout, input.padTokenId),
    positions: Array.from(buildPrefillPositions(layout), Number),
    batchSize: rows.length,
    width,
    cache: input.cache,
    newValid: layout.lengths.map((length) => new Uint8Array(width).fill(1, 0, length)),
    keepCache: input.maxNewTokens > 1,
    logitIndices: BigInt64Array.from(layout.lengths, (length, b) => BigInt(b * width + length - 1)),
    extraFeeds: input.windowFeeds({ width, startToken: rows.map(() => 0), validCount: layout.lengths }),
    outputs: input.generation.outputs,
  };
}

/** One token per row; rows that already finished feed padding that no one attends to. */
function decodeRequest(input: DecodeLoopInput, next: readonly number[], step: number): GraphRunRequest {
  const { rows, layout } = input;
  const positions = rows.map((_, b) => layout.lengths[b]! + step);
  return {
    plan: input.plan,
    phase: 'decode',
    inputIds: BigInt64Array.from(next, (id) => BigInt(id)),
    positions,
    batchSize: rows.length,
    width: 1,
    cache: input.cache,
    newValid: rows.map(() => Uint8Array.of(1)),
    keepCache: step < input.maxNewTokens - 2,
    logitIndices: BigInt64Array.from(rows, (_, b) => BigInt(b)),
    extraFeeds: input.windowFeeds({ width: 1, startToken: positions, validCount: rows.map(() => 1) }),
    outputs: input.generation.outputs,
  };
}

/** Prefill, then one decode step per new token until every row stopped or `maxNewTokens` were taken. */
export async function runDecodeLoop(input: DecodeLoopInput): Promise<void> {
  let result = await input.run(prefillRequest(input));
  for (let step = 0; ; step++) {
    const next = input.generation.takeTokens(result, step, input.padTokenId, input.vocabSize);
    if (step >= input.maxNewTokens - 1 || input.generation.allFinished) return;
    result = await input.run(decodeRequest(input, next, step));
  }
}
