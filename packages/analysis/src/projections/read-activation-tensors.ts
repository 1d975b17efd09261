import { type ActivationPart, type HookSite, SafetensorsFile, TraitlensError } from '@traitlens/core';
import { activationTensorName } from '@traitlens/core/internal';

/** The raw bytes of one part's activations at some layers, as stored (F16, BF16 or F32). */
export interface ActivationTensors {
  path: string;
  promptId: string;
  variant: string;
  part: ActivationPart;
  hiddenSize: number;
  tokenIds: Int32Array;
  /** One entry per requested layer, in the requested order. */
  layers: { layer: number; dtype: 'F16' | 'BF16' | 'F32'; bytes: Uint8Array }[];
}

/**
 * Reads only the tensors an analysis needs from an activation file written by core's
 * `writeActivationFile`: the part's token ids and `{part}.{site}.{L}` for the given layers, as raw bytes
 * (no float conversion here, so decoding can reuse one buffer per file).
 */
export async function readActivationTensors(
  path: string,
  part: ActivationPart,
  site: HookSite,
  layers: readonly number[],
): Promise<ActivationTensors> {
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
    const idsName = part === 'prompt' ? 'prompt_ids' : 'response_ids';
    const idsInfo = file.tensors.get(idsName);
    if (idsInfo?.dtype !== 'I32') {
      throw new TraitlensError(
        'INVALID_ACTIVATION_FILE',
        `${path} lacks an I32 ${idsName} tensor; it is not a traitlens activation file.`,
        { details: { file: path } },
      );
    }
    const idBytes = await file.readBytes(idsName);
    const tokenIds = new Int32Array(idBytes.buffer, idBytes.byteOffset, idsInfo.shape[0] ?? 0);
    const tokenCount = tokenIds.length;
    let hiddenSize = Number(meta.hidden_size ?? 0);
    const read: ActivationTensors['layers'] = [];
    for (const layer of layers) {
      const name = activationTensorName(part, { site, layer });
      const info = file.tensors.get(name);
      if (!info) {
        const stored = [...file.tensors.keys()]
          .filter((key) => key.startsWith(`${part}.${site}.`))
          .map((key) => key.slice(part.length + site.length + 2));
        throw new TraitlensError(
          'INVALID_ACTIVATION_FILE',
          `${path} has no tensor ${name}: activations at ${part}.${site} were captured for layers [${stored.join(', ')}]. Analyse only captured layers (--layers) or capture layer ${layer}.`,
          { details: { file: path, tensor: name, capturedLayers: stored } },
        );
      }
      if (info.dtype !== 'F16' && info.dtype !== 'BF16' && info.dtype !== 'F32') {
        throw new TraitlensError(
          'UNSUPPORTED_DTYPE',
          `${path}: activation ${name} is ${info.dtype}; analysis reads F16, BF16 or F32.`,
          { details: { file: path, tensor: name } },
        );
      }
      const [rows, width] = info.shape;
      if (rows !== tokenCount || width === undefined) {
        throw new TraitlensError(
          'INVALID_ACTIVATION_FILE',
          `${path}: ${name} has shape [${info.shape.join(', ')}] but the file holds ${tokenCount} ${part} tokens.`,
          { details: { file: path, tensor: name } },
        );
      }
      hiddenSize = width;
      read.push({ layer, dtype: info.dtype, bytes: await file.readBytes(name) });
    }
    return {
      path,
      promptId: meta.prompt_id ?? 'unknown',
      variant: meta.variant ?? 'unknown',
      part,
      hiddenSize,
      tokenIds,
      layers: read,
    };
  } finally {
    await file.close();
  }
}
