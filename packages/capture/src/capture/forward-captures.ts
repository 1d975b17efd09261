import { formatHookPoint, type HookPoint, TraitlensError } from '@traitlens/core';
import type { LoadedVariant } from '../variants/model-variant';

/** Default bound on the activations one forward pass copies out of the graph (bytes). */
export const defaultMaxCaptureBytes = 1 << 30;

/**
 * Runs each row (prompt + response token ids, used exactly as given) through the variant and returns,
 * per row, `{site}.{layer}` -> [n_tokens * hidden]. Rows are grouped so that one pass copies at most
 * `maxCaptureBytes` of activations; a row that alone exceeds it is captured a few points at a time (same
 * inputs, so the values are the same as in one pass). The ids the model ran must equal the ids given.
 */
export async function forwardCaptures(
  variant: LoadedVariant,
  rows: readonly (readonly number[])[],
  points: readonly HookPoint[],
  maxCaptureBytes = defaultMaxCaptureBytes,
  promptIds: readonly string[] = rows.map((_, index) => String(index)),
): Promise<Array<Map<string, Float32Array>>> {
  const { model } = variant;
  const bytesPerToken = 4 * model.config.hiddenSize * points.length;
  const results: Array<Map<string, Float32Array>> = rows.map(() => new Map());
  const run = async (indices: readonly number[], group: readonly HookPoint[]) => {
    const inputs = indices.map((index) => [...rows[index]!]);
    const outputs = await model.forward(inputs, {
      capture: group,
      logits: 'none',
      ...(variant.loraScale === undefined ? {} : { loraScale: variant.loraScale }),
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
      for (const point of group) {
        const name = formatHookPoint(point);
        const values = output.captures.get(name);
        if (!values)
          throw new TraitlensError('RUNTIME_ERROR', `${model.id} returned no capture for ${name}.`, {
            details: { point: name },
          });
        results[index]!.set(name, values);
      }
    });
  };
  let group: number[] = [];
  let groupBytes = 0;
  for (let index = 0; index < rows.length; index++) {
    const rowBytes = rows[index]!.length * bytesPerToken;
    if (rowBytes > maxCaptureBytes) {
      const pointsPerPass = Math.max(
        1,
        Math.floor(maxCaptureBytes / (rows[index]!.length * 4 * model.config.hiddenSize)),
      );
      for (let first = 0; first < points.length; first += pointsPerPass)
        await run([index], points.slice(first, first + pointsPerPass));
      continue;
    }
    if (group.length > 0 && groupBytes + rowBytes > maxCaptureBytes) {
      await run(group, points);
      group = [];
      groupBytes = 0;
    }
    group.push(index);
    groupBytes += rowBytes;
  }
  if (group.length > 0) await run(group, points);
  return results;
}
