import { readFile } from 'node:fs/promises';
import {
  type ActivationTexts,
  formatHookPoint,
  type HookPoint,
  hookSites,
  TraitlensError,
  writeActivationFile,
} from '@traitlens/core';
import { activationTensorName, activationTextsPath, assertHookPoint } from '@traitlens/core/internal';
import type { ModelConfig } from '@traitlens/model-runtime';
import {
  describeProjectionColumns,
  type ProjectionBank,
  type ProjectionBankPoint,
  projectCapturedTokens,
  projectionColumnsKey,
} from '../projection/projection-bank';
import { type ProjectionRecord, writeProjectionFile } from '../projection/projection-file';
import type { CapturedResponse } from '../storage/captured-response';
import type { InferencePaths } from '../storage/inference-paths';
import { inspectCapturedFile, sameTokenIds } from '../storage/inspect-captured-file';
import type { ForwardCapture } from './forward-captures';

/** What is stored per prompt, and what the forward pass must capture for it. */
export interface CaptureStorage {
  /** Points whose raw activations go into `activations/<id>.safetensors` (empty: no activation files). */
  activationPoints: HookPoint[];
  activationDtype: 'F16' | 'F32';
  /** When set, per-token projections go into `projections/<id>.safetensors`. */
  projections?: ProjectionBank;
  /**
   * Points whose activations the forward pass copies out of the graph: the activation points. Bank
   * points among them are projected from those activations.
   */
  capturePoints: HookPoint[];
  /**
   * Bank points whose activations are not stored: projected inside the graph, so only [n_tokens, K]
   * projections and [n_tokens] norms leave it (not [n_tokens, hidden] activations).
   */
  graphProjections: ProjectionBankPoint[];
}

export interface CaptureStorageOptions {
  /**
   * Hook points whose activations are saved. Default: resid_post at every layer, or none when
   * `projections` is given (projections only, the small-storage mode).
   */
  points?: readonly HookPoint[];
  projections?: ProjectionBank;
  /** Stored dtype of activations (default F16, as the study stores them). */
  activationDtype?: 'F16' | 'F32';
}

function sortPoints(points: Iterable<HookPoint>): HookPoint[] {
  const unique = new Map<string, HookPoint>();
  for (const point of points) unique.set(formatHookPoint(point), { site: point.site, layer: point.layer });
  return [...unique.values()].sort(
    (a, b) => hookSites.indexOf(a.site) - hookSites.indexOf(b.site) || a.layer - b.layer,
  );
}

/** Checks points and bank against the model and settles what each prompt stores. */
export function resolveCaptureStorage(
  options: CaptureStorageOptions,
  config: Pick<ModelConfig, 'layerCount' | 'hiddenSize'>,
  modelId: string,
): CaptureStorage {
  const activationPoints = sortPoints(
    options.points ??
      (options.projections
        ? []
        : Array.from({ length: config.layerCount }, (_, layer) => ({ site: 'resid_post' as const, layer }))),
  );
  for (const point of activationPoints) assertHookPoint(point, config.layerCount, 'Capture');
  const bank = options.projections;
  if (bank) {
    if (bank.hiddenSize !== config.hiddenSize)
      throw new TraitlensError(
        'MODEL_MISMATCH',
        `The projection vectors have width ${bank.hiddenSize} but ${modelId} has hidden size ${config.hiddenSize}; use vectors extracted from a model of the same family and size.`,
        { details: { expected: config.hiddenSize, actual: bank.hiddenSize } },
      );
    for (const entry of bank.points) assertHookPoint(entry.point, config.layerCount, 'Projection vector');
  }
  if (activationPoints.length === 0 && !bank)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'Nothing to store: give hook points for activations, a projection bank, or both.',
    );
  const stored = new Set(activationPoints.map(formatHookPoint));
  const storage: CaptureStorage = {
    activationPoints,
    activationDtype: options.activationDtype ?? 'F16',
    capturePoints: [...activationPoints],
    graphProjections: (bank?.points ?? []).filter((entry) => !stored.has(formatHookPoint(entry.point))),
  };
  if (bank) storage.projections = bank;
  return storage;
}

/**
 * Whether a prompt's activation and projection files exist, hold everything asked for now, and carry
 * exactly the token ids of its response record (a file from an older, different generation does not
 * count).
 */
export async function isPromptOutputComplete(
  paths: InferencePaths,
  record: Pick<CapturedResponse, 'promptId' | 'promptTokenIds' | 'responseTokenIds'>,
  storage: CaptureStorage,
): Promise<boolean> {
  const sameIds = (state: { promptTokenIds: Int32Array; responseTokenIds: Int32Array }) =>
    sameTokenIds(state.promptTokenIds, record.promptTokenIds) &&
    sameTokenIds(state.responseTokenIds, record.responseTokenIds);
  if (storage.activationPoints.length > 0) {
    const state = await inspectCapturedFile(paths.activationFile(record.promptId));
    if (!state || !sameIds(state)) return false;
    // The JSON twin is written before the activation file; check it anyway (an older version wrote it after).
    if (!(await hasActivationTexts(paths.activationFile(record.promptId), record.promptId))) return false;
    for (const point of storage.activationPoints)
      for (const part of ['prompt', 'response'] as const)
        if (!state.tensorNames.has(activationTensorName(part, point))) return false;
  }
  if (storage.projections) {
    const state = await inspectCapturedFile(paths.projectionFile(record.promptId));
    if (!state || !sameIds(state)) return false;
    let stored: string;
    try {
      stored = projectionColumnsKey(JSON.parse(state.metadata.columns ?? '{}'));
    } catch {
      return false;
    }
    if (stored !== projectionColumnsKey(describeProjectionColumns(storage.projections))) return false;
  }
  return true;
}

async function hasActivationTexts(activationPath: string, promptId: string): Promise<boolean> {
  try {
    const texts = JSON.parse(await readFile(activationTextsPath(activationPath), 'utf8')) as {
      promptId?: unknown;
    };
    return texts.promptId === promptId;
  } catch {
    return false;
  }
}

/** The `.json` twin of an activation file: texts and token strings, plus the prompt's annotations. */
function activationTexts(record: CapturedResponse): ActivationTexts {
  const {
    format: _format,
    formatVersion: _formatVersion,
    promptTokenIds: _promptTokenIds,
    responseTokenIds: _responseTokenIds,
    ...texts
  } = record;
  return texts;
}

function fileMetadata(record: CapturedResponse): Record<string, string> {
  const metadata: Record<string, string> = { prompt_set: record.promptSet };
  if (record.lora !== undefined) metadata.lora = record.lora;
  if (record.loraScale !== undefined) metadata.lora_scale = String(record.loraScale);
  if (record.replayOf) metadata.replay_of = JSON.stringify(record.replayOf);
  return metadata;
}

/**
 * Writes one prompt's activation and/or projection files from one forward pass over its prompt +
 * response ids (`storage.capturePoints` captured, `storage.graphProjections` projected in the graph),
 * split at the prompt length (so the last generated token has its activation).
 */
export async function writePromptOutputs(
  paths: InferencePaths,
  record: CapturedResponse,
  forward: ForwardCapture,
  storage: CaptureStorage,
  hiddenSize: number,
): Promise<void> {
  const promptCount = record.promptTokenIds.length;
  const responseCount = record.responseTokenIds.length;
  const promptTokenIds = Int32Array.from(record.promptTokenIds);
  const responseTokenIds = Int32Array.from(record.responseTokenIds);
  /** Splits [n_tokens * width] values at the prompt length. */
  const splitTokens = (
    values: Float32Array | undefined,
    width: number,
    what: string,
    name: string,
  ): { prompt: Float32Array; response: Float32Array } => {
    if (!values || values.length !== (promptCount + responseCount) * width)
      throw new TraitlensError(
        'RUNTIME_ERROR',
        `The forward pass returned ${values ? values.length / width : 'no'} positions of ${what} for ${name}, expected ${promptCount + responseCount} (prompt + response of "${record.promptId}").`,
      );
    return {
      prompt: values.subarray(0, promptCount * width),
      response: values.subarray(promptCount * width),
    };
  };
  const split = (point: HookPoint) => {
    const name = formatHookPoint(point);
    return { name, ...splitTokens(forward.activations.get(name), hiddenSize, 'activations', name) };
  };
  if (storage.activationPoints.length > 0) {
    const activations = new Map<string, Float32Array>();
    for (const point of storage.activationPoints) {
      const { prompt, response } = split(point);
      activations.set(activationTensorName('prompt', point), prompt);
      activations.set(activationTensorName('response', point), response);
    }
    await writeActivationFile(
      paths.activationFile(record.promptId),
      {
        variant: record.variant,
        model: record.model,
        promptId: record.promptId,
        promptTokenIds,
        responseTokenIds,
        hiddenSize,
        activations,
        dtype: storage.activationDtype,
        extra: fileMetadata(record),
      },
      activationTexts(record),
    );
  }
  const bank = storage.projections;
  if (bank) {
    const projection: ProjectionRecord = {
      variant: record.variant,
      model: record.model,
      promptId: record.promptId,
      promptTokenIds,
      responseTokenIds,
      hiddenSize,
      columns: describeProjectionColumns(bank),
      projections: new Map(),
      norms: new Map(),
      extra: fileMetadata(record),
    };
    const inGraph = new Set(storage.graphProjections.map((entry) => formatHookPoint(entry.point)));
    for (const entry of bank.points) {
      const name = formatHookPoint(entry.point);
      if (inGraph.has(name)) {
        // The graph projected onto the unit vectors, so its dot products already are h.v/|v|.
        const projections = splitTokens(
          forward.projections.get(name),
          entry.columns.length,
          'projections',
          name,
        );
        const norms = splitTokens(forward.norms.get(name), 1, 'activation norms', name);
        for (const part of ['prompt', 'response'] as const) {
          projection.projections.set(activationTensorName(part, entry.point), projections[part]);
          projection.norms.set(activationTensorName(part, entry.point), norms[part]);
        }
        continue;
      }
      const { prompt, response } = split(entry.point);
      for (const [part, values, count] of [
        ['prompt', prompt, promptCount],
        ['response', response, responseCount],
      ] as const) {
        const { projections, norms } = projectCapturedTokens(values, count, entry, hiddenSize);
        projection.projections.set(activationTensorName(part, entry.point), projections);
        projection.norms.set(activationTensorName(part, entry.point), norms);
      }
    }
    await writeProjectionFile(paths.projectionFile(record.promptId), projection);
  }
}
