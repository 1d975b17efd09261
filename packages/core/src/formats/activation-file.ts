import { TraitlensError } from '../errors/traitlens-error';
import { writeJsonAtomic } from '../files/write-file-atomic';
import { formatHookPoint, type HookPoint, layerConvention, parseHookPoint } from '../hooks/hook-point';
import { SafetensorsFile } from '../safetensors/safetensors-file';
import { type SafetensorsTensorInput, writeSafetensors } from '../safetensors/write-safetensors';

export const activationFormatVersion = '1';

export type ActivationPart = 'prompt' | 'response';

/** The text side of one captured prompt (the `.json` twin of an activation file). */
export interface ActivationTexts {
  promptId: string;
  promptText: string;
  responseText: string;
  promptTokens: string[];
  responseTokens: string[];
  [extra: string]: unknown;
}

export interface ActivationRecord {
  variant: string;
  model: string;
  promptId: string;
  promptTokenIds: Int32Array;
  responseTokenIds: Int32Array;
  hiddenSize: number;
  /** `prompt.{site}.{L}` / `response.{site}.{L}` -> [n_tokens * hiddenSize] row-major */
  activations: Map<string, Float32Array>;
  /** Stored dtype for activations. */
  dtype?: 'F16' | 'F32';
  extra?: Record<string, string>;
}

export function activationTensorName(part: ActivationPart, point: HookPoint): string {
  return `${part}.${formatHookPoint(point)}`;
}

/**
 * Writes one prompt's texts (JSON twin, if given) and then its activations (safetensors). The
 * safetensors file is written last so that it marks the pair complete: a run killed between the two
 * leaves no activation file (or an old one whose token ids no longer match), never a file without its twin.
 */
export async function writeActivationFile(
  path: string,
  record: ActivationRecord,
  texts?: ActivationTexts,
): Promise<void> {
  const dtype = record.dtype ?? 'F16';
  const tensors: Record<string, SafetensorsTensorInput> = {
    prompt_ids: { dtype: 'I32', shape: [record.promptTokenIds.length], data: record.promptTokenIds },
    response_ids: { dtype: 'I32', shape: [record.responseTokenIds.length], data: record.responseTokenIds },
  };
  for (const [name, data] of record.activations) {
    const part = name.startsWith('prompt.')
      ? 'prompt'
      : name.startsWith('response.')
        ? 'response'
        : undefined;
    if (!part)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Activation tensor "${name}" must start with prompt. or response.`,
      );
    parseHookPoint(name.slice(part.length + 1));
    const tokens = part === 'prompt' ? record.promptTokenIds.length : record.responseTokenIds.length;
    if (data.length !== tokens * record.hiddenSize) {
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `Activation "${name}" has ${data.length} values, expected ${tokens} tokens x ${record.hiddenSize}.`,
      );
    }
    tensors[name] =
      dtype === 'F16'
        ? { dtype: 'F16', shape: [tokens, record.hiddenSize], data }
        : { dtype: 'F32', shape: [tokens, record.hiddenSize], data };
  }
  if (texts) await writeJsonAtomic(activationTextsPath(path), texts);
  await writeSafetensors(path, tensors, {
    ...record.extra,
    format: 'traitlens.activations',
    format_version: activationFormatVersion,
    ...promptFileMetadata(record),
  });
}

/**
 * The metadata every per-prompt file (activations, projections) carries after its format fields: which
 * variant, model and prompt, the token counts, the width and the layer convention.
 */
export function promptFileMetadata(
  record: Pick<
    ActivationRecord,
    'variant' | 'model' | 'promptId' | 'promptTokenIds' | 'responseTokenIds' | 'hiddenSize'
  >,
): Record<string, string> {
  return {
    variant: record.variant,
    model: record.model,
    prompt_id: record.promptId,
    prompt_tokens: String(record.promptTokenIds.length),
    response_tokens: String(record.responseTokenIds.length),
    hidden_size: String(record.hiddenSize),
    layer_convention: layerConvention,
  };
}

/** The `.json` twin of an activation file (`<prompt id>.safetensors` -> `<prompt id>.json`). */
export function activationTextsPath(path: string): string {
  return path.replace(/\.safetensors$/, '.json');
}

/**
 * Reads an activation file; `select` limits which activation tensors are loaded (the rest stay on disk),
 * which matters when analysing thousands of files for a few layers.
 */
export async function readActivationFile(
  path: string,
  select?: (name: string) => boolean,
): Promise<ActivationRecord> {
  const file = await SafetensorsFile.open(path);
  try {
    const meta = file.metadata;
    if (meta.format !== undefined && meta.format !== 'traitlens.activations') {
      throw new TraitlensError(
        'INVALID_ACTIVATION_FILE',
        `${path} is a ${meta.format} file, not an activation file.`,
        { details: { file: path } },
      );
    }
    if (!file.tensors.has('prompt_ids') || !file.tensors.has('response_ids')) {
      throw new TraitlensError(
        'INVALID_ACTIVATION_FILE',
        `${path} lacks prompt_ids/response_ids tensors; it is not a traitlens activation file.`,
        { details: { file: path } },
      );
    }
    const promptTokenIds = Int32Array.from(await file.readFloat32('prompt_ids'));
    const responseTokenIds = Int32Array.from(await file.readFloat32('response_ids'));
    const activations = new Map<string, Float32Array>();
    let hiddenSize = Number(meta.hidden_size ?? 0);
    let dtype: 'F16' | 'F32' | undefined;
    for (const info of file.tensors.values()) {
      if (info.name === 'prompt_ids' || info.name === 'response_ids') continue;
      if (select && !select(info.name)) continue;
      activations.set(info.name, Float32Array.from(await file.readFloat32(info.name)));
      hiddenSize = info.shape[1] ?? hiddenSize;
      if (info.dtype === 'F16' || info.dtype === 'F32') dtype = info.dtype;
    }
    const record: ActivationRecord = {
      variant: meta.variant ?? 'unknown',
      model: meta.model ?? 'unknown',
      promptId: meta.prompt_id ?? 'unknown',
      promptTokenIds,
      responseTokenIds,
      hiddenSize,
      activations,
    };
    if (dtype) record.dtype = dtype;
    return record;
  } finally {
    await file.close();
  }
}
