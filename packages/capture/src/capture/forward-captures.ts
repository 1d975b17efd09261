import { formatHookPoint, type HookPoint, TraitlensError } from '@traitlens/core';
import type { ProjectionBankPoint } from '../projection/projection-bank';
import type { LoadedVariant } from '../variants/model-variant';

/** Default bound on what one forward pass copies out of the graph (bytes). */
export const defaultMaxCaptureBytes = 1 << 30;

/** What the forward pass over a row must hand back. */
export interface ForwardCaptureRequest {
  /** Points whose full activations are copied out of the graph. */
  capture: readonly HookPoint[];
  /**
   * Points projected inside the graph onto the bank's unit vectors: only the projections and the
   * activation norms are copied out, never the activations.
   */
  project?: readonly ProjectionBankPoint[];
}

/** One row's results, keyed `{site}.{layer}`. */
export interface ForwardCapture {
  /** [n_tokens * hidden] for each captured point. */
  activations: Map<string, Float32Array>;
  /** [n_tokens * K] row-major for each projected point: h.u with u = v/|v|, so the scalar projection. */
  projections: Map<string, Float32Array>;
  /** [n_tokens] for each projected point: |h|. */
  norms: Map<string, Float32Array>;
}

/** One unit of work that can go into a pass on its own, with the bytes per token it copies out. */
type PassItem =
  | { kind: 'capture'; point: HookPoint; bytesPerToken: number }
  | { kind: 'project'; entry: ProjectionBankPoint; bytesPerToken: number };

/**
 * Runs each row (prompt + response token ids, used exactly as given) through the variant and returns,
 * per row, the activations of `capture` and the in-graph projections and norms of
 * `project`. Rows are grouped so that one pass copies at most `maxCaptureBytes` out of the graph
 * (hidden x 4 bytes per token per captured point, (K + 1) x 4 per projected point); a row that alone
 * exceeds it is run a few points at a time (same inputs, so the values are the same as in one pass). The
 * ids the model ran must equal the ids given.
 */
export interface ForwardCapturesOptions extends ForwardCaptureRequest {
  variant: LoadedVariant;
  /** Prompt + response token ids per row, used exactly as given. */
  rows: readonly (readonly number[])[];
  /** Bound on what one pass copies out of the graph (bytes, default 1 GiB). */
  maxCaptureBytes?: number | undefined;
  /** Names of the rows in error messages (default: their indices). */
  promptIds?: readonly string[];
}

export async function forwardCaptures(options: ForwardCapturesOptions): Promise<ForwardCapture[]> {
  const { variant, rows, maxCaptureBytes = defaultMaxCaptureBytes } = options;
  const promptIds = options.promptIds ?? rows.map((_, index) => String(index));
  const { model } = variant;
  const items: PassItem[] = [
    ...options.capture.map(
      (point): PassItem => ({ kind: 'capture', point, bytesPerToken: 4 * model.config.hiddenSize }),
    ),
    ...(options.project ?? []).map(
      (entry): PassItem => ({ kind: 'project', entry, bytesPerToken: 4 * (entry.columns.length + 1) }),
    ),
  ];
  const bytesPerToken = items.reduce((sum, item) => sum + item.bytesPerToken, 0);
  const results: ForwardCapture[] = rows.map(() => ({
    activations: new Map(),
    projections: new Map(),
    norms: new Map(),
  }));
  const run = async (indices: readonly number[], group: readonly PassItem[]) => {
    const inputs = indices.map((index) => [...rows[index]!]);
    const capture = group.flatMap((item) => (item.kind === 'capture' ? [item.point] : []));
    const project = group.flatMap((item) =>
      item.kind === 'project' ? [{ point: item.entry.point, vectors: unitVectorsOf(item.entry) }] : [],
    );
    const outputs = await model.forward(inputs, {
      capture,
      ...(project.length > 0 ? { project } : {}),
      logits: 'none',
      loraScale: variant.loraScale,
    });
    outputs.forEach((output, position) => {
      const index = indices[position]!;
      const expected = rows[index]!;
      const mismatch = output.tokenIds.findIndex((id, i) => id !== expected[i]);
      if (output.tokenIds.length !== expected.length || mismatch >= 0)
        throw new TraitlensError(
          'TOKEN_MISMATCH',
          `${model.id} ran different token ids than it was given for prompt "${promptIds[index]}" (${output.tokenIds.length} ids vs ${expected.length}; first difference at position ${mismatch}). Captured activations must belong to exactly the stored ids.`,
          { details: { promptId: promptIds[index], position: mismatch } },
        );
      const result = results[index]!;
      for (const item of group) {
        const name = formatHookPoint(item.kind === 'capture' ? item.point : item.entry.point);
        if (item.kind === 'capture') {
          result.activations.set(name, requireOutput(output.captures.get(name), model.id, 'capture', name));
        } else {
          result.projections.set(
            name,
            requireOutput(output.projections?.get(name), model.id, 'projection', name),
          );
          result.norms.set(name, requireOutput(output.activationNorms?.get(name), model.id, 'norm', name));
        }
      }
    });
  };
  let group: number[] = [];
  let groupBytes = 0;
  for (let index = 0; index < rows.length; index++) {
    const tokens = rows[index]!.length;
    const rowBytes = tokens * bytesPerToken;
    if (rowBytes > maxCaptureBytes) {
      for (const pass of splitItems(items, tokens, maxCaptureBytes)) await run([index], pass);
      continue;
    }
    if (group.length > 0 && groupBytes + rowBytes > maxCaptureBytes) {
      await run(group, items);
      group = [];
      groupBytes = 0;
    }
    group.push(index);
    groupBytes += rowBytes;
  }
  if (group.length > 0) await run(group, items);
  return results;
}

/** The bank point's K unit vectors as views of its [K, hidden] matrix (no copies). */
function unitVectorsOf(entry: ProjectionBankPoint): Float32Array[] {
  const width = entry.unitVectors.length / entry.columns.length;
  return entry.columns.map((_, k) => entry.unitVectors.subarray(k * width, (k + 1) * width));
}

/** Consecutive items packed into passes of at most `maxBytes` for one row (at least one item each). */
function splitItems(items: readonly PassItem[], tokens: number, maxBytes: number): PassItem[][] {
  const passes: PassItem[][] = [];
  let current: PassItem[] = [];
  let currentBytes = 0;
  for (const item of items) {
    const bytes = tokens * item.bytesPerToken;
    if (current.length > 0 && currentBytes + bytes > maxBytes) {
      passes.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += bytes;
  }
  if (current.length > 0) passes.push(current);
  return passes;
}

function requireOutput(
  values: Float32Array | undefined,
  modelId: string,
  what: string,
  name: string,
): Float32Array {
  if (!values)
    throw new TraitlensError('RUNTIME_ERROR', `${modelId} returned no ${what} for ${name}.`, {
      details: { point: name },
    });
  return values;
}
