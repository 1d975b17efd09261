import {
  type HookSite,
  layerConvention,
  SafetensorsFile,
  type SafetensorsTensorInput,
  TraitlensError,
  writeSafetensors,
} from '@traitlens/core';
import { isHookSite } from '@traitlens/core/internal';
import type { Matrix } from '../numeric/matrix';
import type { TraitPolarity } from './extraction-progress';

/** Identity of a sample row: which prompt, which rollout. */
export interface ActivationRowSource {
  promptIndex: number;
  rollout: number;
}

/** One class's window-averaged activations: row i of every layer's matrix is `rows[i]`. */
export interface ClassWindowActivations {
  rows: ActivationRowSource[];
  layers: Map<number, Matrix>;
}

/** Window-averaged activations of both classes at one site (one file per site and window). */
export interface WindowActivations {
  site: HookSite;
  /** Token window text, e.g. `response[:5]`. */
  tokenWindow: string;
  model: string;
  hiddenSize: number;
  layers: number[];
  /** Stage key of the inputs these were computed from. */
  key: string;
  /** Records left out because their window held no token (`polarity:promptIndex:rollout`). */
  dropped: string[];
  positive: ClassWindowActivations;
  negative: ClassWindowActivations;
}

const format = 'traitlens.window-activations';

/**
 * Writes `positive.{L}` / `negative.{L}` [rows, D] F32 tensors plus `positive.rows` / `negative.rows`
 * [rows, 2] I32 (prompt index, rollout), with the site, window and layer convention as metadata.
 */
export async function writeWindowActivations(path: string, activations: WindowActivations): Promise<void> {
  const tensors: Record<string, SafetensorsTensorInput> = {};
  for (const polarity of ['positive', 'negative'] as const) {
    const part = activations[polarity];
    const rows = new Int32Array(part.rows.length * 2);
    part.rows.forEach((row, index) => {
      rows[index * 2] = row.promptIndex;
      rows[index * 2 + 1] = row.rollout;
    });
    tensors[`${polarity}.rows`] = { dtype: 'I32', shape: [part.rows.length, 2], data: rows };
    for (const layer of activations.layers) {
      const matrix = part.layers.get(layer);
      if (!matrix)
        throw new TraitlensError('INVALID_ARGUMENT', `Missing ${polarity} activations for layer ${layer}.`);
      tensors[`${polarity}.${layer}`] = {
        dtype: 'F32',
        shape: [matrix.rows, matrix.columns],
        data: matrix.data,
      };
    }
  }
  await writeSafetensors(path, tensors, {
    format,
    format_version: '1',
    site: activations.site,
    token_window: activations.tokenWindow,
    model: activations.model,
    hidden_size: String(activations.hiddenSize),
    layers: JSON.stringify(activations.layers),
    layer_convention: layerConvention,
    key: activations.key,
    dropped: JSON.stringify(activations.dropped),
  });
}

/** The stage key recorded in a window-activation file, or undefined when the file is absent or foreign. */
export async function readWindowActivationsKey(path: string): Promise<string | undefined> {
  try {
    const file = await SafetensorsFile.open(path);
    try {
      return file.metadata.format === format ? file.metadata.key : undefined;
    } finally {
      await file.close();
    }
  } catch {
    return undefined;
  }
}

export async function readWindowActivations(path: string): Promise<WindowActivations> {
  const file = await SafetensorsFile.open(path);
  try {
    const meta = file.metadata;
    if (meta.format !== format || !isHookSite(meta.site)) {
      throw new TraitlensError(
        'INVALID_EXPERIMENT',
        `${path} is not a traitlens window-activation file; delete it and rerun the activations stage.`,
        { details: { file: path } },
      );
    }
    const layers = JSON.parse(meta.layers ?? '[]') as number[];
    const hiddenSize = Number(meta.hidden_size);
    const readClass = async (polarity: TraitPolarity): Promise<ClassWindowActivations> => {
      const ids = await file.readFloat32(`${polarity}.rows`);
      const rows: ActivationRowSource[] = [];
      for (let i = 0; i < ids.length; i += 2) rows.push({ promptIndex: ids[i]!, rollout: ids[i + 1]! });
      const matrices = new Map<number, Matrix>();
      for (const layer of layers) {
        const data = await file.readFloat32(`${polarity}.${layer}`);
        matrices.set(layer, {
          rows: rows.length,
          columns: hiddenSize,
          data: data instanceof Float32Array ? data : Float32Array.from(data),
        });
      }
      return { rows, layers: matrices };
    };
    return {
      site: meta.site,
      tokenWindow: meta.token_window ?? 'unknown',
      model: meta.model ?? 'unknown',
      hiddenSize,
      layers,
      key: meta.key ?? '',
      dropped: JSON.parse(meta.dropped ?? '[]') as string[],
      positive: await readClass('positive'),
      negative: await readClass('negative'),
    };
  } finally {
    await file.close();
  }
}
