import { TraitlensError } from '../errors/traitlens-error';
import { type HookSite, isHookSite, layerConvention } from '../hooks/hook-point';
import { SafetensorsFile } from '../safetensors/safetensors-file';
import { type SafetensorsTensorInput, writeSafetensors } from '../safetensors/write-safetensors';

export const traitVectorFormatVersion = '1';

/** Everything a vector file says about where its vectors came from. */
export interface TraitVectorMetadata {
  trait: string;
  method: string;
  model: string;
  modelRevision?: string;
  site: HookSite;
  /** e.g. `response[:5]` */
  tokenWindow: string;
  /** How the stored vectors are scaled, e.g. `unit` or `raw`. */
  normalisation: string;
  hiddenSize: number;
  datasetHash?: string;
  traitlensVersion?: string;
  /** Per layer: classifier bias (probe) where a method has one. */
  biases?: Record<number, number>;
  /** Per layer: projection of the midpoint of the class means, for centring projections. */
  baselines?: Record<number, number>;
  /** Free-form extra string metadata (kept verbatim). */
  extra?: Record<string, string>;
}

export interface TraitVectorSet {
  metadata: TraitVectorMetadata;
  /** layer -> vector of length hiddenSize */
  vectors: Map<number, Float32Array>;
}

/**
 * Writes one trait's vectors as safetensors (`layer.{L}` tensors) with string metadata, readable with
 * Python's `safetensors.safe_open(...).metadata()`.
 */
export async function writeTraitVectors(path: string, set: TraitVectorSet): Promise<void> {
  const tensors: Record<string, SafetensorsTensorInput> = {};
  for (const [layer, vector] of [...set.vectors].sort((a, b) => a[0] - b[0])) {
    if (vector.length !== set.metadata.hiddenSize) {
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `Vector for layer ${layer} has ${vector.length} values but hiddenSize is ${set.metadata.hiddenSize}.`,
      );
    }
    assertUsableVector(vector, `${path}: the vector for layer ${layer}`);
    tensors[`layer.${layer}`] = { dtype: 'F32', shape: [vector.length], data: vector };
  }
  const m = set.metadata;
  const metadata: Record<string, string> = {
    ...m.extra,
    format: 'traitlens.trait-vectors',
    format_version: traitVectorFormatVersion,
    trait: m.trait,
    method: m.method,
    model: m.model,
    site: m.site,
    layer_convention: layerConvention,
    token_window: m.tokenWindow,
    normalisation: m.normalisation,
    hidden_size: String(m.hiddenSize),
    layers: JSON.stringify([...set.vectors.keys()].sort((a, b) => a - b)),
  };
  if (m.modelRevision) metadata.model_revision = m.modelRevision;
  if (m.datasetHash) metadata.dataset_hash = m.datasetHash;
  if (m.traitlensVersion) metadata.traitlens_version = m.traitlensVersion;
  if (m.biases) metadata.biases = JSON.stringify(m.biases);
  if (m.baselines) metadata.baselines = JSON.stringify(m.baselines);
  await writeSafetensors(path, tensors, metadata);
}

const knownKeys = new Set([
  'format',
  'format_version',
  'trait',
  'method',
  'model',
  'model_revision',
  'site',
  'layer_convention',
  'token_window',
  'normalisation',
  'hidden_size',
  'layers',
  'dataset_hash',
  'traitlens_version',
  'biases',
  'baselines',
]);

function parseNumberRecord(
  path: string,
  field: string,
  text: string | undefined,
): Record<number, number> | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<number, number>;
  } catch (cause) {
    throw new TraitlensError('INVALID_VECTOR_FILE', `${path}: metadata "${field}" is not valid JSON.`, {
      cause,
      details: { file: path, field },
    });
  }
}

/**
 * Refuses a vector no consumer can use: a NaN or infinite component (steering would produce NaN
 * logits, projections NaN scores) or all zeros (no direction; cosines divide by zero).
 */
function assertUsableVector(vector: Float32Array, what: string): void {
  let zero = true;
  for (let index = 0; index < vector.length; index++) {
    const value = vector[index]!;
    if (!Number.isFinite(value)) {
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${what} has a non-finite component (${value} at index ${index}); the extraction that made it failed (e.g. identical classes or a diverged method). Re-extract it, or leave this layer or method out.`,
        { details: { index, value: String(value) } },
      );
    }
    if (value !== 0) zero = false;
  }
  if (zero && vector.length > 0) {
    throw new TraitlensError(
      'INVALID_VECTOR_FILE',
      `${what} is all zeros, so it has no direction to steer or project onto. Re-extract it (do the two classes differ?), or leave this layer or method out.`,
      {},
    );
  }
}

/**
 * Reads a vector file written by `writeTraitVectors` (or by hand, given the same tensor names and
 * shapes). Refuses a file whose metadata names another format or a newer format version, whose
 * `hidden_size` disagrees with its tensors, whose `layer.{L}` tensors are not one-dimensional, or whose
 * vectors hold NaN, infinities or only zeros.
 */
export async function readTraitVectors(path: string): Promise<TraitVectorSet> {
  const file = await SafetensorsFile.open(path);
  try {
    const meta = file.metadata;
    if (meta.format !== undefined && meta.format !== 'traitlens.trait-vectors') {
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${path}: metadata format is "${meta.format}", not "traitlens.trait-vectors"; this is not a trait vector file (an activation or projection file?). Pass a file from extraction/<category>/<trait>/vectors/.`,
        { details: { file: path, field: 'format', value: meta.format } },
      );
    }
    if (meta.format_version !== undefined && Number(meta.format_version) > Number(traitVectorFormatVersion)) {
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${path}: vector file format version ${meta.format_version} is newer than this traitlens reads (${traitVectorFormatVersion}); update traitlens.`,
        { details: { file: path, field: 'format_version', value: meta.format_version } },
      );
    }
    const vectors = new Map<number, Float32Array>();
    for (const info of file.tensors.values()) {
      const match = /^layer\.(\d+)$/.exec(info.name);
      if (!match) continue;
      if (info.shape.length !== 1) {
        throw new TraitlensError(
          'INVALID_VECTOR_FILE',
          `${path}: tensor "${info.name}" has shape [${info.shape.join(', ')}], but a layer's vector must be one-dimensional [hidden_size].`,
          { details: { file: path, tensor: info.name, shape: info.shape } },
        );
      }
      const vector = Float32Array.from(await file.readFloat32(info.name));
      assertUsableVector(vector, `${path}: tensor "${info.name}"`);
      vectors.set(Number(match[1]), vector);
    }
    if (vectors.size === 0) {
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${path} holds no layer.{L} tensors; it is not a traitlens vector file.`,
        { details: { file: path } },
      );
    }
    const site = meta.site ?? 'resid_post';
    if (!isHookSite(site))
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${path}: metadata site "${site}" is not a hook site.`,
        { details: { file: path, field: 'site' } },
      );
    const widths = [...new Set([...vectors.values()].map((v) => v.length))];
    const [hiddenSize, ...otherWidths] = widths;
    if (hiddenSize === undefined || otherWidths.length > 0)
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${path}: vectors have different widths (${widths.join(', ')}).`,
        { details: { file: path } },
      );
    if (meta.hidden_size !== undefined && Number(meta.hidden_size) !== hiddenSize) {
      throw new TraitlensError(
        'INVALID_VECTOR_FILE',
        `${path}: metadata hidden_size is ${meta.hidden_size} but the vectors have ${hiddenSize} values; the file was edited or written wrongly. Re-extract it.`,
        { details: { file: path, field: 'hidden_size', value: meta.hidden_size, actual: hiddenSize } },
      );
    }
    const extra = Object.fromEntries(Object.entries(meta).filter(([key]) => !knownKeys.has(key)));
    const metadata: TraitVectorMetadata = {
      trait: meta.trait ?? 'unknown',
      method: meta.method ?? 'unknown',
      model: meta.model ?? 'unknown',
      site,
      tokenWindow: meta.token_window ?? 'unknown',
      normalisation: meta.normalisation ?? 'unknown',
      hiddenSize,
    };
    if (meta.model_revision) metadata.modelRevision = meta.model_revision;
    if (meta.dataset_hash) metadata.datasetHash = meta.dataset_hash;
    if (meta.traitlens_version) metadata.traitlensVersion = meta.traitlens_version;
    const biases = parseNumberRecord(path, 'biases', meta.biases);
    if (biases) metadata.biases = biases;
    const baselines = parseNumberRecord(path, 'baselines', meta.baselines);
    if (baselines) metadata.baselines = baselines;
    if (Object.keys(extra).length > 0) metadata.extra = extra;
    return { metadata, vectors };
  } finally {
    await file.close();
  }
}

/**
 * Checks that a vector set fits a model before it is used for steering or projection: the width must
 * equal the hidden size and every layer must exist.
 */
export function assertVectorsFitModel(
  set: TraitVectorSet,
  model: { hiddenSize: number; layerCount: number; id?: string },
  source = 'vector file',
): void {
  if (set.metadata.hiddenSize !== model.hiddenSize) {
    throw new TraitlensError(
      'MODEL_MISMATCH',
      `${source} has vectors of width ${set.metadata.hiddenSize} (extracted from ${set.metadata.model}) but ${model.id ?? 'the model'} has hidden size ${model.hiddenSize}. Use vectors extracted from a model of the same family and size.`,
      { details: { expected: model.hiddenSize, actual: set.metadata.hiddenSize } },
    );
  }
  for (const layer of set.vectors.keys()) {
    if (layer >= model.layerCount) {
      throw new TraitlensError(
        'MODEL_MISMATCH',
        `${source} has a vector for layer ${layer} but ${model.id ?? 'the model'} has ${model.layerCount} layers.`,
        { details: { layer, layerCount: model.layerCount } },
      );
    }
  }
}
