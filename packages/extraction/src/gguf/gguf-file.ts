import { TraitlensError } from '@traitlens/core';

/** GGUF metadata value types (gguf.h `gguf_type`). */
export const ggufValueTypes = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof ggufValueTypes, 'array'>;

/** A typed metadata value; arrays hold scalars of one type. */
export type GgufValue =
  | { type: Exclude<GgufScalarType, 'string' | 'bool' | 'uint64' | 'int64'>; value: number }
  | { type: 'uint64' | 'int64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufScalarType; value: (number | bigint | boolean | string)[] };

/** ggml tensor types traitlens reads and writes (control vectors are F32). */
export const ggmlTypeF32 = 0;

export interface GgufTensor {
  name: string;
  /** ggml order: ne[0] is the fastest-varying (for a vector, its length). */
  dimensions: bigint[];
  ggmlType: number;
  /** Offset of the data from the start of the data section. */
  offset: bigint;
  /** Raw little-endian bytes. */
  bytes: Uint8Array;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensor[];
  alignment: number;
}

const magic = 0x46554747; // "GGUF" little-endian
const defaultAlignment = 32;

/** A tensor's entry in a GGUF header; its bytes follow in the data section, at its offset. */
export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the fastest-varying (for a `[out, in]` matrix: `[in, out]`). */
  dimensions: readonly (number | bigint)[];
  ggmlType: number;
  /** Size of the tensor's data in bytes (padded to the alignment in the file). */
  byteLength: number;
}

export interface GgufHeader {
  /** Header, metadata and tensor infos, padded to the alignment: the data section starts right after. */
  bytes: Uint8Array;
  /** Each tensor's offset from the start of the data section. */
  offsets: bigint[];
  alignment: number;
}

/**
 * Encodes a GGUF v3 header for tensors whose data is written separately (streamed, for files larger
 * than memory): write `bytes`, then each tensor's data padded to `alignment`, in the given order.
 */
export function encodeGgufHeader(
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: ReadonlyArray<GgufTensorInfo>,
): GgufHeader {
  const writer = new ByteWriter();
  writer.uint32(magic);
  writer.uint32(3);
  writer.uint64(BigInt(tensors.length));
  writer.uint64(BigInt(metadata.length));
  let alignment = defaultAlignment;
  for (const [key, value] of metadata) {
    writer.string(key);
    writer.uint32(ggufValueTypes[value.type]);
    writeValue(writer, value);
    if (key === 'general.alignment' && value.type === 'uint32') alignment = value.value;
  }
  let offset = 0n;
  const offsets: bigint[] = [];
  for (const tensor of tensors) {
    writer.string(tensor.name);
    writer.uint32(tensor.dimensions.length);
    for (const dimension of tensor.dimensions) writer.uint64(BigInt(dimension));
    writer.uint32(tensor.ggmlType);
    writer.uint64(offset);
    offsets.push(offset);
    offset += BigInt(padTo(tensor.byteLength, alignment));
  }
  writer.pad(alignment);
  return { bytes: writer.finish(), offsets, alignment };
}

/** Writes a GGUF v3 file image: header, metadata, tensor infos, padding, then each tensor padded to the alignment. */
export function encodeGguf(
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: ReadonlyArray<{ name: string; data: Float32Array }>,
): Uint8Array {
  const header = encodeGgufHeader(
    metadata,
    tensors.map((tensor) => ({
      name: tensor.name,
      dimensions: [tensor.data.length],
      ggmlType: ggmlTypeF32,
      byteLength: tensor.data.byteLength,
    })),
  );
  const writer = new ByteWriter();
  writer.bytes(header.bytes);
  for (const tensor of tensors) {
    writer.bytes(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    writer.pad(header.alignment);
  }
  return writer.finish();
}

function writeValue(writer: ByteWriter, value: GgufValue): void {
  switch (value.type) {
    case 'array':
      writer.uint32(ggufValueTypes[value.itemType]);
      writer.uint64(BigInt(value.value.length));
      for (const item of value.value) writeValue(writer, { type: value.itemType, value: item } as GgufValue);
      return;
    case 'string':
      writer.string(value.value);
      return;
    case 'bool':
      writer.uint8(value.value ? 1 : 0);
      return;
    case 'uint64':
      writer.uint64(value.value);
      return;
    case 'int64':
      writer.int64(value.value);
      return;
    default:
      writer.number(value.type, value.value);
  }
}

/** Parses a GGUF (v2 or v3) file image. */
export function parseGguf(bytes: Uint8Array, source = '<memory>'): GgufFile {
  const reader = new ByteReader(bytes, source);
  if (reader.uint32() !== magic) throw invalid(source, 'it does not start with the GGUF magic');
  const version = reader.uint32();
  if (version !== 2 && version !== 3)
    throw invalid(source, `GGUF version ${version} is not supported (2 or 3 are)`);
  const tensorCount = Number(reader.uint64());
  const metadataCount = Number(reader.uint64());
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < metadataCount; i++) {
    const key = reader.string();
    metadata.set(key, readValue(reader, reader.uint32()));
  }
  const alignmentValue = metadata.get('general.alignment');
  const alignment = alignmentValue?.type === 'uint32' ? alignmentValue.value : defaultAlignment;
  const infos: Omit<GgufTensor, 'bytes'>[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = reader.string();
    const dimensionCount = reader.uint32();
    const dimensions: bigint[] = [];
    for (let d = 0; d < dimensionCount; d++) dimensions.push(reader.uint64());
    infos.push({ name, dimensions, ggmlType: reader.uint32(), offset: reader.uint64() });
  }
  const dataStart = padTo(reader.position, alignment);
  const tensors = infos.map((info) => {
    if (info.ggmlType !== ggmlTypeF32) return { ...info, bytes: new Uint8Array(0) };
    const elements = info.dimensions.reduce((a, b) => a * b, 1n);
    const start = dataStart + Number(info.offset);
    const end = start + Number(elements) * 4;
    if (end > bytes.length) throw invalid(source, `tensor "${info.name}" runs past the end of the file`);
    return { ...info, bytes: bytes.subarray(start, end) };
  });
  return { version, metadata, tensors, alignment };
}

function readValue(reader: ByteReader, type: number): GgufValue {
  switch (type) {
    case ggufValueTypes.uint8:
      return { type: 'uint8', value: reader.view.getUint8(reader.advance(1)) };
    case ggufValueTypes.int8:
      return { type: 'int8', value: reader.view.getInt8(reader.advance(1)) };
    case ggufValueTypes.uint16:
      return { type: 'uint16', value: reader.view.getUint16(reader.advance(2), true) };
    case ggufValueTypes.int16:
      return { type: 'int16', value: reader.view.getInt16(reader.advance(2), true) };
    case ggufValueTypes.uint32:
      return { type: 'uint32', value: reader.uint32() };
    case ggufValueTypes.int32:
      return { type: 'int32', value: reader.view.getInt32(reader.advance(4), true) };
    case ggufValueTypes.float32:
      return { type: 'float32', value: reader.view.getFloat32(reader.advance(4), true) };
    case ggufValueTypes.bool:
      return { type: 'bool', value: reader.view.getUint8(reader.advance(1)) !== 0 };
    case ggufValueTypes.string:
      return { type: 'string', value: reader.string() };
    case ggufValueTypes.uint64:
      return { type: 'uint64', value: reader.uint64() };
    case ggufValueTypes.int64:
      return { type: 'int64', value: reader.view.getBigInt64(reader.advance(8), true) };
    case ggufValueTypes.float64:
      return { type: 'float64', value: reader.view.getFloat64(reader.advance(8), true) };
    case ggufValueTypes.array: {
      const itemTypeId = reader.uint32();
      const count = Number(reader.uint64());
      const itemType = (Object.keys(ggufValueTypes) as (keyof typeof ggufValueTypes)[]).find(
        (key) => ggufValueTypes[key] === itemTypeId,
      );
      if (!itemType || itemType === 'array')
        throw invalid(reader.source, `unsupported array item type ${itemTypeId}`);
      const value: (number | bigint | boolean | string)[] = [];
      for (let i = 0; i < count; i++)
        value.push(readValue(reader, itemTypeId).value as number | bigint | boolean | string);
      return { type: 'array', itemType, value };
    }
    default:
      throw invalid(reader.source, `unknown metadata value type ${type}`);
  }
}

function invalid(source: string, reason: string): TraitlensError {
  return new TraitlensError('INVALID_VECTOR_FILE', `${source} is not a readable GGUF file: ${reason}.`, {
    details: { file: source },
  });
}

function padTo(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

class ByteWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;
  private scratch = new DataView(new ArrayBuffer(8));

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  private pushScratch(size: number): void {
    this.push(new Uint8Array(this.scratch.buffer.slice(0, size)));
  }
  uint8(value: number): void {
    this.scratch.setUint8(0, value);
    this.pushScratch(1);
  }
  uint32(value: number): void {
    this.scratch.setUint32(0, value, true);
    this.pushScratch(4);
  }
  uint64(value: bigint): void {
    this.scratch.setBigUint64(0, value, true);
    this.pushScratch(8);
  }
  int64(value: bigint): void {
    this.scratch.setBigInt64(0, value, true);
    this.pushScratch(8);
  }
  number(type: GgufScalarType, value: number): void {
    const setters: Partial<Record<GgufScalarType, [number, (view: DataView, value: number) => void]>> = {
      uint8: [1, (view, v) => view.setUint8(0, v)],
      int8: [1, (view, v) => view.setInt8(0, v)],
      uint16: [2, (view, v) => view.setUint16(0, v, true)],
      int16: [2, (view, v) => view.setInt16(0, v, true)],
      uint32: [4, (view, v) => view.setUint32(0, v, true)],
      int32: [4, (view, v) => view.setInt32(0, v, true)],
      float32: [4, (view, v) => view.setFloat32(0, v, true)],
      float64: [8, (view, v) => view.setFloat64(0, v, true)],
    };
    const setter = setters[type];
    if (!setter) throw new TraitlensError('INVALID_ARGUMENT', `GGUF value type ${type} is not numeric.`);
    setter[1](this.scratch, value);
    this.pushScratch(setter[0]);
  }
  string(value: string): void {
    const bytes = new TextEncoder().encode(value);
    this.uint64(BigInt(bytes.length));
    this.push(bytes);
  }
  bytes(value: Uint8Array): void {
    this.push(value.slice());
  }
  pad(alignment: number): void {
    const padding = padTo(this.length, alignment) - this.length;
    if (padding > 0) this.push(new Uint8Array(padding));
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

class ByteReader {
  readonly view: DataView;
  position = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** Returns the current position and moves past `size` bytes, failing cleanly at the end of the file. */
  advance(size: number): number {
    const start = this.position;
    if (start + size > this.bytes.length) throw invalid(this.source, 'it ends in the middle of its header');
    this.position += size;
    return start;
  }
  uint32(): number {
    return this.view.getUint32(this.advance(4), true);
  }
  uint64(): bigint {
    return this.view.getBigUint64(this.advance(8), true);
  }
  string(): string {
    const length = Number(this.uint64());
    const start = this.advance(length);
    return new TextDecoder().decode(this.bytes.subarray(start, start + length));
  }
}
