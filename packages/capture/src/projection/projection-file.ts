import {
  type ActivationPart,
  type ActivationRecord,
  SafetensorsFile,
  type SafetensorsTensorInput,
  TraitlensError,
  writeSafetensors,
} from '@traitlens/core';
import { promptFileMetadata } from '@traitlens/core/internal';
import { readTokenIdTensor } from '../storage/inspect-captured-file';
import type { ProjectionColumn } from './projection-bank';

export const projectionFileFormat = 'traitlens.projections';
export const projectionFormatVersion = '1';

/** What a projection value is, written into every projection file. */
export const projectionMeasure =
  'scalar projection h.v/|v| of each token activation h onto each vector v; cosine = value / norm';

/**
 * One prompt's per-token projections (`projections/<prompt_id>.safetensors`): for each hook point
 * `prompt.{site}.{L}` [n_prompt, K] and `response.{site}.{L}` [n_response, K] (F32), the norms |h| as
 * `prompt_norm.{site}.{L}` / `response_norm.{site}.{L}` [n_tokens], and the token ids.
 */
/** One prompt's projections; the header fields (variant, model, prompt, token ids, width) are an activation file's. */
export interface ProjectionRecord
  extends Pick<
    ActivationRecord,
    'variant' | 'model' | 'promptId' | 'promptTokenIds' | 'responseTokenIds' | 'hiddenSize' | 'extra'
  > {
  /** `{site}.{L}` -> the columns of that point's tensors, in order (name, trait, method, source, |v|). */
  columns: Record<string, ProjectionColumn[]>;
  /** `{part}.{site}.{L}` -> [n_tokens * K] */
  projections: Map<string, Float32Array>;
  /** `{part}.{site}.{L}` -> [n_tokens] */
  norms: Map<string, Float32Array>;
}

function partOf(name: string): ActivationPart {
  if (name.startsWith('prompt.')) return 'prompt';
  if (name.startsWith('response.')) return 'response';
  throw new TraitlensError(
    'INVALID_ARGUMENT',
    `Projection tensor "${name}" must start with prompt. or response.`,
  );
}

export async function writeProjectionFile(path: string, record: ProjectionRecord): Promise<void> {
  const tensors: Record<string, SafetensorsTensorInput> = {
    prompt_ids: { dtype: 'I32', shape: [record.promptTokenIds.length], data: record.promptTokenIds },
    response_ids: { dtype: 'I32', shape: [record.responseTokenIds.length], data: record.responseTokenIds },
  };
  for (const [name, values] of record.projections) {
    const part = partOf(name);
    const point = name.slice(part.length + 1);
    const columnCount = record.columns[point]?.length;
    if (columnCount === undefined)
      throw new TraitlensError('INVALID_ARGUMENT', `Projection "${name}" has no column names for ${point}.`);
    const tokens = part === 'prompt' ? record.promptTokenIds.length : record.responseTokenIds.length;
    const norms = record.norms.get(name);
    if (values.length !== tokens * columnCount || norms?.length !== tokens)
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `Projection "${name}" has ${values.length} values and ${norms?.length ?? 0} norms, expected ${tokens} tokens x ${columnCount} columns.`,
      );
    tensors[name] = { dtype: 'F32', shape: [tokens, columnCount], data: values };
    tensors[`${part}_norm.${point}`] = { dtype: 'F32', shape: [tokens], data: norms };
  }
  await writeSafetensors(path, tensors, {
    ...record.extra,
    format: projectionFileFormat,
    format_version: projectionFormatVersion,
    ...promptFileMetadata(record),
    measure: projectionMeasure,
    columns: JSON.stringify(record.columns),
  });
}

function parseJsonMetadata<T>(path: string, field: string, text: string | undefined): T {
  try {
    return JSON.parse(text ?? '') as T;
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_ACTIVATION_FILE',
      `${path}: metadata "${field}" is missing or not valid JSON; it is not a traitlens projection file.`,
      { cause, details: { file: path, field } },
    );
  }
}

/** Reads a projection file written by `writeProjectionFile`. */
export async function readProjectionFile(path: string): Promise<ProjectionRecord> {
  const file = await SafetensorsFile.open(path);
  try {
    const meta = file.metadata;
    if (meta.format !== projectionFileFormat)
      throw new TraitlensError(
        'INVALID_ACTIVATION_FILE',
        `${path} is ${meta.format ? `a ${meta.format} file` : 'not a traitlens file'}, not a projection file.`,
        { details: { file: path } },
      );
    const columns = parseJsonMetadata<Record<string, ProjectionColumn[]>>(path, 'columns', meta.columns);
    const projections = new Map<string, Float32Array>();
    const norms = new Map<string, Float32Array>();
    for (const part of ['prompt', 'response'] as const) {
      for (const point of Object.keys(columns)) {
        projections.set(`${part}.${point}`, Float32Array.from(await file.readFloat32(`${part}.${point}`)));
        norms.set(`${part}.${point}`, Float32Array.from(await file.readFloat32(`${part}_norm.${point}`)));
      }
    }
    const known = new Set([
      'format',
      'format_version',
      'variant',
      'model',
      'prompt_id',
      'prompt_tokens',
      'response_tokens',
      'hidden_size',
      'layer_convention',
      'measure',
      'columns',
    ]);
    const extra = Object.fromEntries(Object.entries(meta).filter(([key]) => !known.has(key)));
    return {
      variant: meta.variant ?? 'unknown',
      model: meta.model ?? 'unknown',
      promptId: meta.prompt_id ?? 'unknown',
      promptTokenIds: await readTokenIdTensor(file, 'prompt_ids'),
      responseTokenIds: await readTokenIdTensor(file, 'response_ids'),
      hiddenSize: Number(meta.hidden_size ?? 0),
      columns,
      projections,
      norms,
      ...(Object.keys(extra).length > 0 ? { extra } : {}),
    };
  } finally {
    await file.close();
  }
}
