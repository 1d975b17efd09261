import { TraitlensError } from '@traitlens/core';

/**
 * Turns an already padded batch (as Hugging Face tokenizers return it, left or right padded) back into
 * rows of real tokens using its attention mask (1 = token, 0 = padding). The runtime pads internally and
 * derives position ids from each row's own tokens, so feeding these rows gives the values HF computes
 * with correct position ids — never the shifted positions of the original study's left-padding bug.
 */
export function stripPadding(
  inputIds: readonly (readonly number[])[],
  attentionMask: readonly (readonly number[])[],
): number[][] {
  if (inputIds.length !== attentionMask.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `The attention mask has ${attentionMask.length} rows but the batch has ${inputIds.length}.`,
    );
  }
  return inputIds.map((row, index) => {
    const mask = attentionMask[index]!;
    if (mask.length !== row.length) {
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `Row ${index}: the attention mask has ${mask.length} entries but the row has ${row.length} token ids.`,
      );
    }
    if (mask.some((value) => value !== 0 && value !== 1)) {
      throw new TraitlensError('INVALID_ARGUMENT', `Row ${index}: attention mask values must be 0 or 1.`);
    }
    const first = mask.indexOf(1);
    const last = mask.lastIndexOf(1);
    if (first < 0)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Row ${index} is all padding (its attention mask has no 1).`,
      );
    if (mask.slice(first, last + 1).includes(0)) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Row ${index}: padding inside the row (mask ${mask.join('')}); only left or right padding is supported.`,
      );
    }
    return row.slice(first, last + 1);
  });
}
