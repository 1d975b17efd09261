import { TraitlensError } from '../errors/traitlens-error';
import { writeFileAtomic } from '../files/write-file-atomic';
import { float32ArrayToFloat16 } from '../numeric/float16';

/** A tensor to write. Float data may be given as float32 and stored as F16. */
export type SafetensorsTensorInput =
  | { dtype: 'F32'; shape: readonly number[]; data: Float32Array }
  | { dtype: 'F16'; shape: readonly number[]; data: Float32Array | Uint16Array }
  | { dtype: 'F64'; shape: readonly number[]; data: Float64Array }
  | { dtype: 'I32'; shape: readonly number[]; data: Int32Array }
  | { dtype: 'I64'; shape: readonly number[]; data: BigInt64Array }
  | { dtype: 'U8'; shape: readonly number[]; data: Uint8Array };

function toBytes(name: string, tensor: SafetensorsTensorInput): Uint8Array {
  const elements = tensor.shape.reduce((a, b) => a * b, 1);
  if (tensor.data.length !== elements) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Tensor "${name}" has ${tensor.data.length} values but shape [${tensor.shape.join(', ')}] needs ${elements}.`,
      { details: { tensor: name } },
    );
  }
  const data =
    tensor.dtype === 'F16' && tensor.data instanceof Float32Array
      ? float32ArrayToFloat16(tensor.data)
      : tensor.data;
  // safetensors is little-endian, as are all platforms Node ships for.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Encodes tensors and string metadata as safetensors chunks (header first, then data in insertion order).
 * The header is padded with spaces to 8 bytes so every tensor is aligned, as the reference writer does.
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string')
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `safetensors metadata "${key}" must be a string (got ${typeof value}); JSON-encode structured values.`,
        );
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const bytes = toBytes(name, tensor);
    header[name] = {
      dtype: tensor.dtype,
      shape: [...tensor.shape],
      data_offsets: [offset, offset + bytes.byteLength],
    };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let headerText = JSON.stringify(header);
  const padding = (8 - (Buffer.byteLength(headerText) % 8)) % 8;
  headerText += ' '.repeat(padding);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return [length, headerBytes, ...chunks];
}

/** Writes a safetensors file atomically (temporary file + rename), so a crash never leaves half a file. */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
