import {
  assertVectorsFitModel,
  formatHookPoint,
  type HookPoint,
  hookSites,
  readTraitVectors,
  TraitlensError,
  type TraitVectorSet,
} from '@traitlens/core';
import { l2Norm } from '@traitlens/core/internal';

/** One vector of the bank at one hook point. */
export interface ProjectionColumn {
  /** Unique within the bank, e.g. `alignment/sycophancy:mean_diff`. */
  name: string;
  trait: string;
  method: string;
  /** The model the vector was extracted from. */
  model: string;
  /** |v| of the stored vector (projections are onto v/|v|). */
  vectorNorm: number;
  /** The vector's training baseline at this layer, when its file has one (for centring later). */
  baseline?: number;
  /** The file it was read from. */
  file?: string;
}

/** The vectors that apply at one hook point, as a K x D matrix of unit rows. */
export interface ProjectionBankPoint {
  point: HookPoint;
  columns: ProjectionColumn[];
  /** [K, hiddenSize] row-major: each column's vector divided by its norm. */
  unitVectors: Float32Array;
}

/** A bank of trait vectors to project activations onto while capturing, instead of storing them. */
export interface ProjectionBank {
  hiddenSize: number;
  /** Ordered by site (residual-stream order), then layer. */
  points: ProjectionBankPoint[];
}

/** A vector set with the name its columns get (default `<trait>:<method>`). */
export interface ProjectionBankSource {
  vectors: TraitVectorSet;
  name?: string | undefined;
  file?: string;
}

/**
 * Builds a projection bank: each vector set contributes one column at (its site, each of its layers),
 * restricted to `layers` when given. Names must be unique (two sets with the same trait and method need
 * explicit names); zero vectors and mixed widths are rejected.
 */
export function createProjectionBank(
  sources: readonly ProjectionBankSource[],
  options: { layers?: readonly number[] | undefined } = {},
): ProjectionBank {
  if (sources.length === 0)
    throw new TraitlensError('INVALID_ARGUMENT', 'A projection bank needs at least one vector file.');
  const hiddenSize = sources[0]!.vectors.metadata.hiddenSize;
  const names = new Map<string, string>();
  const byPoint = new Map<
    string,
    { point: HookPoint; columns: ProjectionColumn[]; vectors: Float32Array[] }
  >();
  for (const source of sources) {
    const { metadata } = source.vectors;
    const where = source.file ?? `vectors "${metadata.trait}"`;
    const name = source.name ?? `${metadata.trait}:${metadata.method}`;
    if (metadata.hiddenSize !== hiddenSize)
      throw new TraitlensError(
        'MODEL_MISMATCH',
        `${where} has width ${metadata.hiddenSize} but the other vectors of the bank have ${hiddenSize}; project onto vectors of one model only.`,
        { details: { file: source.file, expected: hiddenSize, actual: metadata.hiddenSize } },
      );
    const earlier = names.get(name);
    if (earlier !== undefined)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Two vector files would both be named "${name}" in the projection bank (${earlier} and ${where}); give them distinct names (CLI: --vectors name=path).`,
        { details: { name } },
      );
    names.set(name, where);
    for (const [layer, vector] of source.vectors.vectors) {
      if (options.layers && !options.layers.includes(layer)) continue;
      const norm = l2Norm(vector);
      if (!(norm > 0) || !Number.isFinite(norm))
        throw new TraitlensError(
          'INVALID_VECTOR_FILE',
          `${where}: the vector for layer ${layer} has norm ${norm}; it cannot define a direction.`,
          { details: { file: source.file, layer } },
        );
      const point: HookPoint = { site: metadata.site, layer };
      const key = formatHookPoint(point);
      const entry = byPoint.get(key) ?? { point, columns: [], vectors: [] };
      const column: ProjectionColumn = {
        name,
        trait: metadata.trait,
        method: metadata.method,
        model: metadata.model,
        vectorNorm: norm,
      };
      const baseline = metadata.baselines?.[layer];
      if (baseline !== undefined) column.baseline = baseline;
      if (source.file !== undefined) column.file = source.file;
      entry.columns.push(column);
      entry.vectors.push(Float32Array.from(vector, (value) => value / norm));
      byPoint.set(key, entry);
    }
  }
  if (byPoint.size === 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `None of the vector files has a vector at the selected layers ${JSON.stringify(options.layers ?? [])}; pick layers the vectors cover.`,
    );
  const points = [...byPoint.values()].map(({ point, columns, vectors }) => {
    const unitVectors = new Float32Array(vectors.length * hiddenSize);
    vectors.forEach((vector, k) => {
      unitVectors.set(vector, k * hiddenSize);
    });
    return { point, columns, unitVectors };
  });
  points.sort(
    (a, b) =>
      hookSites.indexOf(a.point.site) - hookSites.indexOf(b.point.site) || a.point.layer - b.point.layer,
  );
  return { hiddenSize, points };
}

/**
 * Reads vector files (`writeTraitVectors` format) into a projection bank, checking each against the
 * model when one is given.
 */
export async function readProjectionBank(
  files: ReadonlyArray<{ path: string; name?: string }>,
  options: {
    layers?: readonly number[] | undefined;
    model?: { hiddenSize: number; layerCount: number; id?: string };
  } = {},
): Promise<ProjectionBank> {
  const sources: ProjectionBankSource[] = [];
  for (const file of files) {
    const vectors = await readTraitVectors(file.path);
    if (options.model) assertVectorsFitModel(vectors, options.model, file.path);
    sources.push({ vectors, file: file.path, name: file.name });
  }
  return createProjectionBank(sources, { layers: options.layers });
}

/** `{site}.{layer}` -> the bank's columns there, as stored in projection files. */
export function describeProjectionColumns(bank: ProjectionBank): Record<string, ProjectionColumn[]> {
  return Object.fromEntries(bank.points.map((entry) => [formatHookPoint(entry.point), entry.columns]));
}

/**
 * A short fingerprint of which vectors sit at which points (names only), used to tell whether a stored
 * projection file was made with the same bank.
 */
export function projectionColumnsKey(columns: Readonly<Record<string, readonly ProjectionColumn[]>>): string {
  return JSON.stringify(
    Object.entries(columns)
      .map(([point, list]) => [point, list.map((column) => column.name)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  );
}

/**
 * Per token: the scalar projection of its activation onto every unit vector of the point, and |h|
 * (so cosine = projection / |h| can be computed later without the activations).
 */
export function projectCapturedTokens(
  activations: Float32Array,
  tokenCount: number,
  entry: ProjectionBankPoint,
  hiddenSize: number,
): { projections: Float32Array; norms: Float32Array } {
  const columnCount = entry.columns.length;
  const projections = new Float32Array(tokenCount * columnCount);
  const norms = new Float32Array(tokenCount);
  for (let t = 0; t < tokenCount; t++) {
    const base = t * hiddenSize;
    let squares = 0;
    for (let i = 0; i < hiddenSize; i++) squares += activations[base + i]! * activations[base + i]!;
    norms[t] = Math.sqrt(squares);
    for (let k = 0; k < columnCount; k++) {
      const vectorBase = k * hiddenSize;
      let sum = 0;
      for (let i = 0; i < hiddenSize; i++) sum += activations[base + i]! * entry.unitVectors[vectorBase + i]!;
      projections[t * columnCount + k] = sum;
    }
  }
  return { projections, norms };
}
