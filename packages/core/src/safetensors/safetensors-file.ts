import { type FileHandle, open, stat } from 'node:fs/promises';
import { TraitlensError } from '../errors/traitlens-error';
import { bfloat16ArrayToFloat32, float16ArrayToFloat32 } from '../numeric/float16';
import { bytesPerElement, isSafetensorsDtype, type SafetensorsDtype } from './safetensors-dtype';

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  byteOffset: number;
  byteLength: number;
}

/** Largest header we accept; the format caps it at 100 MB, real checkpoints use a few MB. */
const maximumHeaderBytes = 100_000_000;

/** Parses and checks a safetensors header against the file size. Exported for in-memory parsing. */
export function parseSafetensorsHeader(
  headerText: string,
  headerLength: number,
  fileSize: number,
  path: string,
): { tensors: Map<string, SafetensorsTensorInfo>; metadata: Record<string, string> } {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerText) as Record<string, unknown>;
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_SAFETENSORS',
      `${path}: the safetensors header is not valid JSON. The file is corrupt or not a safetensors file; re-download or re-export it.`,
      { cause, details: { file: path } },
    );
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new TraitlensError(
      'INVALID_SAFETENSORS',
      `${path}: the safetensors header is not a JSON object. The file is corrupt or not a safetensors file; re-download or re-export it.`,
      { details: { file: path } },
    );
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = Object.fromEntries(
        Object.entries((raw ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      );
      continue;
    }
    const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as {
      dtype?: unknown;
      shape?: unknown;
      data_offsets?: unknown;
    };
    if (!isSafetensorsDtype(entry.dtype)) {
      throw new TraitlensError(
        'UNSUPPORTED_DTYPE',
        `${path}: tensor "${name}" has dtype ${String(entry.dtype)}, which traitlens cannot read (supported: ${Object.keys(bytesPerElement).join(', ')}). Convert the checkpoint to F32, F16 or BF16.`,
        { details: { file: path, tensor: name, dtype: entry.dtype } },
      );
    }
    const shape = entry.shape;
    const offsets = entry.data_offsets;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${path}: tensor "${name}" has a malformed shape or data_offsets in the header (offsets must be two non-negative integers, begin <= end). The file is corrupt; re-download or re-export it.`,
        { details: { file: path, tensor: name } },
      );
    }
    const [begin, end] = offsets as [number, number];
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * bytesPerElement[entry.dtype];
    if (end - begin !== expected) {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${path}: tensor "${name}" declares ${end - begin} bytes but shape [${shape.join(', ')}] of ${entry.dtype} needs ${expected}.`,
        { details: { file: path, tensor: name } },
      );
    }
    if (dataStart + end > fileSize) {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${path}: the file is truncated: tensor "${name}" ends at byte ${dataStart + end} but the file has ${fileSize} bytes. Re-download or re-write the file.`,
        { details: { file: path, tensor: name, fileSize, needed: dataStart + end } },
      );
    }
    tensors.set(name, {
      name,
      dtype: entry.dtype,
      shape: shape as number[],
      byteOffset: dataStart + begin,
      byteLength: expected,
    });
  }
  assertDisjointRanges(tensors, dataStart, path);
  return { tensors, metadata };
}

/**
 * Two tensors whose byte ranges overlap would read each other's data (garbage weights that load
 * without complaint); refuse the file, naming both. Gaps are allowed (some writers align tensors).
 */
function assertDisjointRanges(
  tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
  dataStart: number,
  path: string,
): void {
  const ordered = [...tensors.values()]
    .filter((info) => info.byteLength > 0)
    .sort((a, b) => a.byteOffset - b.byteOffset);
  for (let index = 1; index < ordered.length; index++) {
    const previous = ordered[index - 1]!;
    const current = ordered[index]!;
    if (current.byteOffset < previous.byteOffset + previous.byteLength) {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${path}: tensors "${previous.name}" (bytes ${previous.byteOffset - dataStart}-${previous.byteOffset - dataStart + previous.byteLength}) and "${current.name}" (bytes ${current.byteOffset - dataStart}-${current.byteOffset - dataStart + current.byteLength}) overlap in the file, so one would read the other's data. The file is corrupt or was crafted; re-download or re-export it.`,
        { details: { file: path, tensors: [previous.name, current.name] } },
      );
    }
  }
}

/**
 * A safetensors file opened for random access: the header is read once, tensor data is read on demand
 * with positioned reads, so a single tensor (or a slice of rows of one) never needs the whole file.
 */
export class SafetensorsFile {
  readonly path: string;
  private readonly handle: FileHandle;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fileSize: number;

  private constructor(opened: {
    path: string;
    handle: FileHandle;
    tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
    metadata: Readonly<Record<string, string>>;
    fileSize: number;
  }) {
    this.path = opened.path;
    this.handle = opened.handle;
    this.tensors = opened.tensors;
    this.metadata = opened.metadata;
    this.fileSize = opened.fileSize;
  }

  static async open(path: string): Promise<SafetensorsFile> {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (cause) {
      throw new TraitlensError(
        'FILE_NOT_FOUND',
        `Safetensors file not found: ${path}. Check the path or download the model files.`,
        { cause, details: { file: path } },
      );
    }
    const handle = await open(path, 'r');
    try {
      if (size < 8)
        throw new TraitlensError(
          'INVALID_SAFETENSORS',
          `${path}: the file has ${size} bytes, too short to be safetensors (truncated download?).`,
          { details: { file: path } },
        );
      const lengthBytes = Buffer.alloc(8);
      await handle.read(lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength > maximumHeaderBytes || 8 + headerLength > size) {
        throw new TraitlensError(
          'INVALID_SAFETENSORS',
          `${path}: header length ${headerLength} does not fit in a ${size}-byte file; the file is truncated or not safetensors.`,
          { details: { file: path } },
        );
      }
      const headerBytes = Buffer.alloc(headerLength);
      await handle.read(headerBytes, 0, headerLength, 8);
      const { tensors, metadata } = parseSafetensorsHeader(
        headerBytes.toString('utf8'),
        headerLength,
        size,
        path,
      );
      return new SafetensorsFile({ path, handle, tensors, metadata, fileSize: size });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The tensor's header entry; a clear error naming the file when it is absent. */
  info(name: string): SafetensorsTensorInfo {
    const info = this.tensors.get(name);
    if (!info) {
      throw new TraitlensError(
        'INVALID_SAFETENSORS',
        `${this.path}: no tensor named "${name}" (the file has ${this.tensors.size} tensors, e.g. ${[...this.tensors.keys()].slice(0, 3).join(', ')}).`,
        { details: { file: this.path, tensor: name } },
      );
    }
    return info;
  }

  /** Raw bytes of `[byteStart, byteEnd)` within one tensor's data. */
  async readBytes(name: string, byteStart = 0, byteEnd?: number): Promise<Uint8Array> {
    const info = this.info(name);
    const end = byteEnd ?? info.byteLength;
    if (byteStart < 0 || end > info.byteLength || byteStart > end) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `${this.path}: byte range [${byteStart}, ${end}) is outside tensor "${name}" (${info.byteLength} bytes).`,
      );
    }
    const length = end - byteStart;
    // Aligned to 8 bytes so typed-array views of any element size can be taken on it.
    const buffer = new Uint8Array(new ArrayBuffer(Math.ceil(length / 8) * 8), 0, length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(
        buffer,
        done,
        Math.min(length - done, 1 << 30),
        info.byteOffset + byteStart + done,
      );
      if (bytesRead === 0)
        throw new TraitlensError(
          'INVALID_SAFETENSORS',
          `${this.path}: unexpected end of file while reading "${name}".`,
        );
      done += bytesRead;
    }
    return buffer;
  }

  /**
   * Reads rows `[rowStart, rowEnd)` of a tensor (first dimension) as float32, converting F16/BF16/F64.
   * Use it to stream large matrices a block of rows at a time.
   */
  async readRowsAsFloat32(name: string, rowStart: number, rowEnd: number): Promise<Float32Array> {
    const info = this.info(name);
    const rows = info.shape[0] ?? 1;
    if (rowStart < 0 || rowEnd > rows || rowStart > rowEnd) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `${this.path}: rows [${rowStart}, ${rowEnd}) are outside tensor "${name}" with ${rows} rows.`,
      );
    }
    const rowElements = info.shape.length === 0 ? 1 : info.shape.slice(1).reduce((a, b) => a * b, 1);
    const width = bytesPerElement[info.dtype];
    const bytes = await this.readBytes(name, rowStart * rowElements * width, rowEnd * rowElements * width);
    return convertToFloat32(bytes, {
      dtype: info.dtype,
      elements: (rowEnd - rowStart) * rowElements,
      path: this.path,
      name,
    });
  }

  /** Reads a whole tensor as float32. */
  async readFloat32(name: string): Promise<Float32Array> {
    const info = this.info(name);
    const elements = info.shape.reduce((a, b) => a * b, 1);
    return convertToFloat32(await this.readBytes(name), {
      dtype: info.dtype,
      elements,
      path: this.path,
      name,
    });
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Converts raw little-endian tensor bytes of a float dtype (or integers) to float32. */
export function convertToFloat32(
  bytes: Uint8Array,
  tensor: { dtype: SafetensorsDtype; elements: number; path?: string; name?: string },
): Float32Array {
  const { dtype, elements, path = '<memory>', name = '<tensor>' } = tensor;
  const buffer = bytes.buffer;
  const offset = bytes.byteOffset;
  switch (dtype) {
    case 'F32':
      return offset % 4 === 0
        ? new Float32Array(buffer, offset, elements)
        : new Float32Array(bytes.slice().buffer, 0, elements);
    case 'F16':
      return float16ArrayToFloat32(new Uint16Array(bytes.slice().buffer, 0, elements));
    case 'BF16':
      return bfloat16ArrayToFloat32(
        new Uint16Array(
          offset % 2 === 0 ? buffer : bytes.slice().buffer,
          offset % 2 === 0 ? offset : 0,
          elements,
        ),
      );
    case 'F64':
      return Float32Array.from(new Float64Array(bytes.slice().buffer, 0, elements));
    case 'I32':
      return Float32Array.from(new Int32Array(bytes.slice().buffer, 0, elements));
    case 'I64':
      return Float32Array.from(new BigInt64Array(bytes.slice().buffer, 0, elements), (v) => Number(v));
    default:
      throw new TraitlensError(
        'UNSUPPORTED_DTYPE',
        `${path}: tensor "${name}" has dtype ${dtype}, which cannot be read as float32.`,
      );
  }
}
