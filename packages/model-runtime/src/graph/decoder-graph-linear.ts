import type { DecoderGraphBase } from './decoder-graph-base';
import { OnnxType } from './onnx-graph-builder';

/** x W^T for a logical weight, named `hint`. */
export type DecoderLinear = (value: string, name: string, hint: string) => string;

/** The embedding rows of the flat token ids: a Gather, or GatherBlockQuantized for an int8/int4 table. */
export function embedTokens(base: DecoderGraphBase, flatIds: string): string {
  const { g, manifest } = base;
  return manifest.weights.embedding?.quantization
    ? quantizedEmbeddingGather(base, flatIds)
    : g.op('Gather', [base.weight('embedding'), flatIds], { axis: 0 }, { hint: 'embedded' });
}

/**
 * Rows of the int8/int4 embedding (GatherBlockQuantized, MatMulNBits conventions: low nibble first,
 * (q - zero point) * scale): the same codes viewed as [vocab, hidden * bits / 8] with [vocab, blocks]
 * scales and [vocab, ceil(blocks * bits / 8)] zero points.
 */
function quantizedEmbeddingGather(base: DecoderGraphBase, ids: string): string {
  const { g } = base;
  const stored = base.manifest.weights.embedding;
  if (!stored?.quantization) throw new Error('weight embedding missing from manifest or not quantized');
  const { bits, blockSize } = stored.quantization;
  const [vocab, hidden] = stored.dims as [number, number];
  const blocks = hidden / blockSize;
  const parts = base.quantizedParts('embedding');
  const view = (value: string, dims: number[], hint: string) =>
    g.op('Reshape', [value, g.constant(`${hint}_shape`, dims)], undefined, { hint });
  return g.op(
    'GatherBlockQuantized',
    [
      view(parts.codes, [vocab, (hidden * bits) / 8], 'embedding_codes'),
      ids,
      view(parts.scales, [vocab, blocks], 'embedding_scales'),
      // Symmetric blocks: no zero points input, GatherBlockQuantized's default (8 or 128) applies.
      ...(parts.zeroPoints
        ? [view(parts.zeroPoints, [vocab, Math.ceil((blocks * bits) / 8)], 'embedding_zero_points')]
        : []),
    ],
    { gather_axis: 0, quantize_axis: 1, block_size: blockSize, bits },
    { hint: 'embedded', domain: 'com.microsoft' },
  );
}

/**
 * The graph's linear layers: Gemm, or MatMulNBits when the weight is quantized, plus the LoRA branch
 * if any. Declares the switchable-LoRA scale input when the weights carry switchable branches.
 */
export function createLinear(
  base: DecoderGraphBase,
  shapes: { batchBySequence: string; coefficientShape: string },
): DecoderLinear {
  const { g, manifest } = base;
  const loraScale = manifest.lora?.mode === 'switchable' ? switchableLoraScale(base, shapes) : undefined;
  return (value, name, hint) => {
    const stored = manifest.weights[name];
    if (!stored) throw new Error(`weight ${name} missing from manifest`);
    let output: string;
    if (stored.quantization) {
      const [n, k] = stored.dims as [number, number];
      const { bits, blockSize } = stored.quantization;
      const parts = base.quantizedParts(name);
      output = g.op(
        'MatMulNBits',
        parts.zeroPoints
          ? [value, parts.codes, parts.scales, parts.zeroPoints]
          : [value, parts.codes, parts.scales],
        { K: k, N: n, bits, block_size: blockSize, accuracy_level: base.options.accuracyLevel },
        { hint, domain: 'com.microsoft' },
      );
    } else {
      output = g.op('Gemm', [value, base.weight(name)], { transB: 1 }, { hint });
    }
    if (loraScale && base.hasWeight(`${name}.lora_a`)) {
      const down = g.op(
        'Gemm',
        [value, base.weight(`${name}.lora_a`)],
        { transB: 1 },
        { hint: `${hint}_lora_a` },
      );
      const up = g.op(
        'Gemm',
        [down, base.weight(`${name}.lora_b`)],
        { transB: 1 },
        { hint: `${hint}_lora_b` },
      );
      output = g.op('Add', [output, g.op('Mul', [up, loraScale])], undefined, { hint: `${hint}_lora` });
    }
    return output;
  };
}

/** Switchable LoRA: a per-row scale (0 = clean model, 1 = adapted) broadcast to every token, as a column. */
function switchableLoraScale(
  base: DecoderGraphBase,
  shapes: { batchBySequence: string; coefficientShape: string },
): string {
  const { g } = base;
  const perRow = g.input('lora_scale', OnnxType.float32, ['batch']);
  const perToken = g.op('Expand', [
    g.op('Unsqueeze', [perRow, g.constant('axis_one', [1])]),
    shapes.batchBySequence,
  ]);
  return base.toCompute(
    g.op('Reshape', [perToken, shapes.coefficientShape], undefined, { hint: 'lora_scale_column' }),
  );
}
