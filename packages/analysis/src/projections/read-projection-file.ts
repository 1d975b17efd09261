import { type ActivationPart, SafetensorsFile, TraitlensError } from '@traitlens/core';
import type { TokenProjections } from './project-token-activations';
import type { VectorBank } from './vector-bank';

/** One column of a capture projection file: a vector at one hook point (capture's `ProjectionColumn`). */
export interface ProjectionFileColumn {
  name: string;
  trait: string;
  method: string;
  norm?: number;
  baseline?: number;
}

export const projectionFileFormat = 'traitlens.projections';

function parseColumns(path: string, text: string | undefined): Record<string, ProjectionFileColumn[]> {
  try {
    const columns = JSON.parse(text ?? '') as Record<string, ProjectionFileColumn[]>;
    if (typeof columns !== 'object' || columns === null) throw new Error('not an object');
    return columns;
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_ACTIVATION_FILE',
      `${path}: metadata "columns" is missing or not valid JSON; it is not a traitlens projection file.`,
      { cause, details: { file: path } },
    );
  }
}

/** The columns of a projection file (read from its header only). */
export async function readProjectionFileColumns(
  path: string,
): Promise<{ columns: Record<string, ProjectionFileColumn[]>; hiddenSize: number }> {
  const file = await SafetensorsFile.open(path);
  try {
    if (file.metadata.format !== projectionFileFormat) {
      throw new TraitlensError(
        'INVALID_ACTIVATION_FILE',
        `${path} is ${file.metadata.format ? `a ${file.metadata.format} file` : 'not a traitlens file'}, not a projection file.`,
        { details: { file: path } },
      );
    }
    return {
      columns: parseColumns(path, file.metadata.columns),
      hiddenSize: Number(file.metadata.hidden_size ?? 0),
    };
  } finally {
    await file.close();
  }
}

/**
 * Reads one prompt's per-token projections from a projection file written during capture (capture's
 * in-graph projection: `{part}.{site}.{L}` [n_tok, K] scalar projections onto v/|v| and
 * `{part}_norm.{site}.{L}` [n_tok] activation norms), reordered into the bank's vector order. Activations
 * need never be stored for this: the analysis then works from these files alone.
 */
export async function readProjectionFile(
  path: string,
  part: ActivationPart,
  bank: VectorBank,
): Promise<TokenProjections> {
  const file = await SafetensorsFile.open(path);
  try {
    const meta = file.metadata;
    if (meta.format !== projectionFileFormat) {
      throw new TraitlensError(
        'INVALID_ACTIVATION_FILE',
        `${path} is ${meta.format ? `a ${meta.format} file` : 'not a traitlens file'}, not a projection file.`,
        { details: { file: path } },
      );
    }
    const columns = parseColumns(path, meta.columns);
    const idsName = `${part}_ids`;
    const idsInfo = file.tensors.get(idsName);
    if (idsInfo?.dtype !== 'I32')
      throw new TraitlensError('INVALID_ACTIVATION_FILE', `${path} lacks an I32 ${idsName} tensor.`, {
        details: { file: path },
      });
    const idBytes = await file.readBytes(idsName);
    const tokenIds = new Int32Array(idBytes.buffer, idBytes.byteOffset, idsInfo.shape[0] ?? 0);
    const tokenCount = tokenIds.length;
    const vectorCount = bank.vectors.length;
    const dots = new Float32Array(bank.layers.length * vectorCount * tokenCount);
    const norms = new Float32Array(bank.layers.length * tokenCount);
    for (const [position, layer] of bank.layers.entries()) {
      const point = `${bank.site}.${layer}`;
      const pointColumns = columns[point] ?? [];
      const byId = new Map(pointColumns.map((column, index) => [`${column.trait}/${column.method}`, index]));
      const width = pointColumns.length;
      const valuesName = `${part}.${point}`;
      if (!file.tensors.has(valuesName)) {
        throw new TraitlensError(
          'INVALID_ACTIVATION_FILE',
          `${path} has no projections at ${valuesName}; it holds ${Object.keys(columns).join(', ')}. Analyse the layers captured (--layers).`,
          { details: { file: path, tensor: valuesName } },
        );
      }
      const values = await file.readFloat32(valuesName);
      const pointNorms = await file.readFloat32(`${part}_norm.${point}`);
      if (values.length !== tokenCount * width || pointNorms.length !== tokenCount) {
        throw new TraitlensError(
          'INVALID_ACTIVATION_FILE',
          `${path}: ${valuesName} has ${values.length} values for ${tokenCount} tokens x ${width} columns.`,
          { details: { file: path, tensor: valuesName } },
        );
      }
      norms.set(pointNorms, position * tokenCount);
      bank.vectors.forEach((vector, k) => {
        if (!bank.present[position]![k]) return;
        const column = byId.get(vector.id);
        if (column === undefined) {
          throw new TraitlensError(
            'INVALID_ACTIVATION_FILE',
            `${path} has no column for ${vector.id} at ${point} (it has ${[...byId.keys()].join(', ')}); capture every prompt with the same vector bank.`,
            { details: { file: path, vector: vector.id } },
          );
        }
        const offset = (position * vectorCount + k) * tokenCount;
        for (let t = 0; t < tokenCount; t++) dots[offset + t] = values[t * width + column]!;
      });
    }
    return {
      promptId: meta.prompt_id ?? 'unknown',
      tokenCount,
      tokenIds,
      layers: bank.layers,
      vectorCount,
      dots,
      norms,
    };
  } finally {
    await file.close();
  }
}
