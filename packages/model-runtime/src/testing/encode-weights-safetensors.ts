import { float32ArrayToFloat16, numberToBfloat16Bits } from '@traitlens/core/internal';
import type { TinyTensor } from './tiny-weights';

export type TinyModelDtype = 'F32' | 'BF16' | 'F16';

/**
 * Encodes weights as a safetensors file in the given dtype. Core's writer does not emit BF16 (traitlens
 * never writes it), but checkpoints on the Hub mostly are BF16, so the generator writes the bytes itself.
 */
export function encodeWeightsSafetensors(
  tensors: readonly TinyTensor[],
  dtype: TinyModelDtype,
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of tensors) {
    let bytes: Uint8Array;
    if (dtype === 'F32') {
      bytes = new Uint8Array(tensor.values.buffer, tensor.values.byteOffset, tensor.values.byteLength);
    } else {
      const bits =
        dtype === 'F16'
          ? float32ArrayToFloat16(tensor.values)
          : Uint16Array.from(tensor.values, numberToBfloat16Bits);
      bytes = new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
    }
    header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return [length, headerBytes, ...chunks];
}
