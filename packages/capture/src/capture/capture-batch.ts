import type { CapturedResponse } from '../storage/captured-response';
import type { InferencePaths } from '../storage/inference-paths';
import type { LoadedVariant } from '../variants/model-variant';
import { type CaptureStorage, writePromptOutputs } from './capture-storage';
import { forwardCaptures } from './forward-captures';

export interface CaptureBatchOptions {
  variant: LoadedVariant;
  /** Response records whose prompt + response ids run through the variant (never re-tokenised). */
  records: readonly CapturedResponse[];
  paths: InferencePaths;
  storage: CaptureStorage;
  /** Bound on what one forward pass copies out of the graph (bytes, default 1 GiB). */
  maxCaptureBytes: number | undefined;
  /** Runs before a prompt's outputs are written (replay writes the prompt's response record there). */
  beforeWrite?: (record: CapturedResponse) => Promise<void>;
  /** Called once a prompt's outputs are written. */
  onWritten: (record: CapturedResponse) => void;
}

/** One batch of the capture or replay stage: forward passes over stored ids, then each prompt's files. */
export async function captureBatch(options: CaptureBatchOptions): Promise<void> {
  const { variant, records, storage } = options;
  const captures = await forwardCaptures({
    variant,
    rows: records.map((record) => [...record.promptTokenIds, ...record.responseTokenIds]),
    capture: storage.capturePoints,
    project: storage.graphProjections,
    maxCaptureBytes: options.maxCaptureBytes,
    promptIds: records.map((record) => record.promptId),
  });
  // forwardCaptures returns one capture per row, in order.
  for (const [index, forward] of captures.entries()) {
    const record = records[index]!;
    await options.beforeWrite?.(record);
    await writePromptOutputs({
      paths: options.paths,
      record,
      forward,
      storage,
      hiddenSize: variant.model.config.hiddenSize,
    });
    options.onWritten(record);
  }
}
