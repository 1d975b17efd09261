import { TraitlensError } from '../errors/traitlens-error';
import type { SafetensorsDtype } from './safetensors-dtype';
import { convertToFloat32, parseSafetensorsHeader, SafetensorsFile } from './safetensors-file';

export interface LoadedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** The values as float32 (integers converted too); use `SafetensorsFile` for raw access. */
  data: Float32Array;
}

export interface LoadedSafetensors {
  tensors: Map<string, LoadedTensor>;
  metadata: Record<string, string>;
}

/** Reads every tensor of a small safetensors file into memory as float32. */
export async function readSafetensors(path: string): Promise<LoadedSafetensors> {
  const file = await SafetensorsFile.open(path);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const info of file.tensors.values()) {
      tensors.set(info.name, {
        dtype: info.dtype,
        shape: info.shape,
        data: await file.readFloat32(info.name),
      });
    }
    return { tensors, metadata: { ...file.metadata } };
  } finally {
    await file.close();
  }
}

/** Parses safetensors bytes already in memory. */
export function parseSafetensors(bytes: Uint8Array, label = '<memory>'): LoadedSafetensors {
  if (bytes.byteLength < 8)
    throw new TraitlensError(
      'INVALID_SAFETENSORS',
      `${label}: ${bytes.byteLength} bytes is too short to be safetensors.`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength)
    throw new TraitlensError(
      'INVALID_SAFETENSORS',
      `${label}: header length ${headerLength} exceeds the ${bytes.byteLength} bytes given; truncated.`,
    );
  const headerText = Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8');
  const { tensors: infos, metadata } = parseSafetensorsHeader(
    headerText,
    headerLength,
    bytes.byteLength,
    label,
  );
  const tensors = new Map<string, LoadedTensor>();
  for (const info of infos.values()) {
    const slice = bytes.slice(info.byteOffset, info.byteOffset + info.byteLength);
    const elements = info.shape.reduce((a, b) => a * b, 1);
    tensors.set(info.name, {
      dtype: info.dtype,
      shape: info.shape,
      data: convertToFloat32(slice, { dtype: info.dtype, elements, path: label, name: info.name }),
    });
  }
  return { tensors, metadata };
}
