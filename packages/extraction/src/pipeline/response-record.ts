import type { TraitPolarity } from './extraction-progress';

/** One generated completion, with the exact token ids later stages reuse (never re-tokenised). */
export interface ResponseRecord {
  polarity: TraitPolarity;
  /** Index of the prompt in its class (pairs share an index). */
  promptIndex: number;
  /** 0-based sample number when several rollouts per prompt are drawn. */
  rollout: number;
  prompt: string;
  systemPrompt?: string;
  promptTokenIds: number[];
  responseTokenIds: number[];
  responseText: string;
  finishReason: string;
}

/** Stable identity of a record within a trait. */
export function formatResponseRecordId(
  record: Pick<ResponseRecord, 'polarity' | 'promptIndex' | 'rollout'>,
): string {
  return `${record.polarity}:${record.promptIndex}:${record.rollout}`;
}

export function compareResponseRecords(a: ResponseRecord, b: ResponseRecord): number {
  return a.promptIndex - b.promptIndex || a.rollout - b.rollout;
}
