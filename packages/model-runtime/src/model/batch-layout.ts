/**
 * Right-padded batch layout. Rows keep their tokens at positions 0..n-1, so position ids are the plain
 * token index (the original study's left-padding bugs cannot occur), and padding is excluded from
 * attention by an additive bias.
 */
export interface BatchLayout {
  batchSize: number;
  sequenceLength: number;
  lengths: number[];
}

export function layoutBatch(rows: readonly (readonly number[])[]): BatchLayout {
  return {
    batchSize: rows.length,
    sequenceLength: Math.max(1, ...rows.map((row) => row.length)),
    lengths: rows.map((row) => row.length),
  };
}

export function buildInputIds(
  rows: readonly (readonly number[])[],
  layout: BatchLayout,
  padTokenId: number,
): BigInt64Array {
  const ids = new BigInt64Array(layout.batchSize * layout.sequenceLength).fill(BigInt(padTokenId));
  rows.forEach((row, b) => {
    row.forEach((id, s) => {
      ids[b * layout.sequenceLength + s] = BigInt(id);
    });
  });
  return ids;
}

export function buildPrefillPositions(layout: BatchLayout): BigInt64Array {
  const positions = new BigInt64Array(layout.batchSize * layout.sequenceLength);
  for (let b = 0; b < layout.batchSize; b++) {
    for (let s = 0; s < layout.sequenceLength; s++)
      positions[b * layout.sequenceLength + s] = BigInt(s < layout.lengths[b]! ? s : 0);
  }
  return positions;
}

/**
 * Additive attention bias [B,1,S,T] for S new tokens after `pastLength` cached slots.
 * `keyValid[b][j]` says whether cache/new slot j of row b holds a real token; a query at new position i
 * sees slot j when j <= pastLength + i and the slot is valid. A query that would see nothing (a padded
 * position) is allowed to see slot 0 so softmax stays finite; its outputs are never read.
 */
export function buildAttentionBias(
  keyValid: readonly Uint8Array[],
  pastLength: number,
  newLength: number,
): Float32Array {
  const total = pastLength + newLength;
  const batch = keyValid.length;
  const bias = new Float32Array(batch * newLength * total).fill(Number.NEGATIVE_INFINITY);
  for (let b = 0; b < batch; b++) {
    const valid = keyValid[b]!;
    for (let i = 0; i < newLength; i++) {
      const base = (b * newLength + i) * total;
      let any = false;
      for (let j = 0; j <= pastLength + i; j++) {
        if (valid[j]) {
          bias[base + j] = 0;
          any = true;
        }
      }
      if (!any) bias[base] = 0;
    }
  }
  return bias;
}
