import { readFile } from 'node:fs/promises';
import { type HookPoint, type HookSite, TraitlensError, writeFileAtomic } from '@traitlens/core';
import { encodeGguf, type GgufValue, ggmlTypeF32, parseGguf } from './gguf-file';

/**
 * llama.cpp adds the tensor `direction.N` to the output of its (0-based) block N — `build_cvec(cur, il)`
 * right before `l_out-il` uses `tensors[il]`, filled from `direction.il` — and rejects `direction.0`.
 * In traitlens terms `direction.N` is resid_post of layer N (= HF hidden_states[N+1]), so resid_post of
 * layer 0 cannot be expressed. (llama.cpp's own cvector-generator names the vector it measured at
 * l_out-L `direction.{L+1}`, i.e. applies it one block later; we keep the place where it was measured.)
 */
export function computeLlamaCppDirectionIndex(point: HookPoint): number | undefined {
  const index =
    point.site === 'resid_post' ? point.layer : point.site === 'resid_pre' ? point.layer - 1 : undefined;
  if (index === undefined) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `llama.cpp control vectors act on the residual stream between blocks; a vector read at ${point.site} cannot be exported (use resid_post or resid_pre).`,
      { details: { site: point.site } },
    );
  }
  return index >= 1 ? index : undefined;
}

export interface GgufControlVectorInput {
  /** llama.cpp's `controlvector.model_hint`: the model's architecture name, e.g. `llama`. */
  modelHint: string;
  /** Layer -> vector, in traitlens layer numbering at `site`. */
  vectors: ReadonlyMap<number, Float32Array>;
  site?: HookSite;
  /** Extra string metadata (llama.cpp ignores keys it does not know), e.g. `traitlens.trait`. */
  metadata?: Readonly<Record<string, string>>;
}

/** A control vector read back, keyed both ways. */
export interface GgufControlVector {
  modelHint: string | undefined;
  layerCount: number | undefined;
  /** `direction.N` index -> vector. */
  directions: Map<number, Float32Array>;
  /** resid_post layer -> vector (the same vectors, traitlens numbering). */
  vectors: Map<number, Float32Array>;
  /** Every string metadata entry. */
  metadata: Record<string, string>;
}

/**
 * Encodes vectors as a llama.cpp GGUF v3 control vector: `general.architecture = "controlvector"`,
 * `controlvector.model_hint`, `controlvector.layer_count` (number of direction tensors, as llama.cpp's
 * generator writes it), and one F32 tensor `direction.N` per layer. Layers llama.cpp cannot steer
 * (resid_post 0) are left out and listed in `skippedLayers`.
 */
export function encodeGgufControlVector(input: GgufControlVectorInput): {
  bytes: Uint8Array;
  skippedLayers: number[];
} {
  const site = input.site ?? 'resid_post';
  const skippedLayers: number[] = [];
  const tensors: { name: string; data: Float32Array; index: number }[] = [];
  let width: number | undefined;
  for (const [layer, vector] of [...input.vectors].sort((a, b) => a[0] - b[0])) {
    if (width !== undefined && vector.length !== width) {
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `Control vector layers must share one width; layer ${layer} has ${vector.length}, others ${width}.`,
      );
    }
    width = vector.length;
    const index = computeLlamaCppDirectionIndex({ site, layer });
    if (index === undefined) skippedLayers.push(layer);
    else tensors.push({ name: `direction.${index}`, data: vector, index });
  }
  if (tensors.length === 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `None of the layers (${[...input.vectors.keys()].join(', ')}) at ${site} can be a llama.cpp control vector; llama.cpp steers block outputs from layer 1 on.`,
    );
  }
  const metadata: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: 'controlvector' }],
    ['controlvector.model_hint', { type: 'string', value: input.modelHint }],
    ['controlvector.layer_count', { type: 'int32', value: tensors.length }],
  ];
  for (const [key, value] of Object.entries(input.metadata ?? {}).sort((a, b) => a[0].localeCompare(b[0]))) {
    metadata.push([key, { type: 'string', value }]);
  }
  return { bytes: encodeGguf(metadata, tensors), skippedLayers };
}

/** Writes a control vector file atomically; returns the layers llama.cpp cannot hold. */
export async function writeGgufControlVector(
  path: string,
  input: GgufControlVectorInput,
): Promise<{ skippedLayers: number[] }> {
  const { bytes, skippedLayers } = encodeGgufControlVector(input);
  await writeFileAtomic(path, bytes);
  return { skippedLayers };
}

/** Parses a control vector image (ours or llama.cpp's). */
export function decodeGgufControlVector(bytes: Uint8Array, source = '<memory>'): GgufControlVector {
  const file = parseGguf(bytes, source);
  const architecture = file.metadata.get('general.architecture');
  if (architecture?.type !== 'string' || architecture.value !== 'controlvector') {
    throw new TraitlensError(
      'INVALID_VECTOR_FILE',
      `${source} is a GGUF file but not a control vector (general.architecture is ${architecture ? JSON.stringify(architecture.value) : 'missing'}).`,
      {
        details: { file: source },
      },
    );
  }
  const directions = new Map<number, Float32Array>();
  const vectors = new Map<number, Float32Array>();
  for (const tensor of file.tensors) {
    const match = /^direction\.(\d+)$/.exec(tensor.name);
    if (!match) continue;
    if (tensor.ggmlType !== ggmlTypeF32 || tensor.dimensions.length !== 1) {
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${source}: tensor ${tensor.name} must be a 1-D F32 tensor (llama.cpp requires it).`,
        { details: { file: source } },
      );
    }
    const data = new Float32Array(tensor.bytes.byteLength / 4);
    new Uint8Array(data.buffer).set(tensor.bytes);
    const index = Number(match[1]);
    directions.set(index, data);
    vectors.set(index, data);
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of file.metadata) if (value.type === 'string') metadata[key] = value.value;
  const hint = file.metadata.get('controlvector.model_hint');
  const count = file.metadata.get('controlvector.layer_count');
  return {
    modelHint: hint?.type === 'string' ? hint.value : undefined,
    layerCount: count && typeof count.value === 'number' ? count.value : undefined,
    directions,
    vectors,
    metadata,
  };
}

export async function readGgufControlVector(path: string): Promise<GgufControlVector> {
  const bytes = await readFile(path).catch((cause: unknown) => {
    throw new TraitlensError('FILE_NOT_FOUND', `Cannot read control vector ${path}.`, {
      cause,
      details: { file: path },
    });
  });
  return decodeGgufControlVector(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
