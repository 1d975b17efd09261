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
  points?: readonly HookPoint[] | undefined;
  projections?: ProjectionBank | undefined;
  /** Stored dtype of activations (default F16, as the study stores them). */
  activationDtype?: 'F16' | 'F32' | undefined;
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

/** One prompt's outputs to write: its record, the forward pass over its ids, and what is stored. */
export interface PromptOutputs {
  paths: InferencePaths;
  record: CapturedResponse;
  forward: ForwardCapture;
  storage: CaptureStorage;
  hiddenSize: number;
}

/**
 * Writes one prompt's activation and/or projection files from one forward pass over its prompt +
 * response ids (`storage.capturePoints` captured, `storage.graphProjections` projected in the graph),
 * split at the prompt length (so the last generated token has its activation).
 */
export async function writePromptOutputs(outputs: PromptOutputs): Promise<void> {
  if (outputs.storage.activationPoints.length > 0) await writeActivations(outputs);
  const bank = outputs.storage.projections;
  if (bank) await writeProjections(outputs, bank);
}

interface TokenSplit {
  prompt: Float32Array;
  response: Float32Array;
}

/** Splits [n_tokens * width] values at the prompt length. */
function splitAtPrompt(
  record: CapturedResponse,
  values: Float32Array | undefined,
  described: { width: number; what: string; name: string },
): TokenSplit {
  const { width, what, name } = described;
  const promptCount = record.promptTokenIds.length;
  const tokens = promptCount + record.responseTokenIds.length;
  if (!values || values.length !== tokens * width)
    throw new TraitlensError(
      'RUNTIME_ERROR',
      `The forward pass returned ${values ? values.length / width : 'no'} positions of ${what} for ${name}, expected ${tokens} (prompt + response of "${record.promptId}").`,
    );
  return {
    prompt: values.subarray(0, promptCount * width),
    response: values.subarray(promptCount * width),
  };
}

function splitActivations({ record, forward, hiddenSize }: PromptOutputs, point: HookPoint): TokenSplit {
  const name = formatHookPoint(point);
  return splitAtPrompt(record, forward.activations.get(name), {
    width: hiddenSize,
    what: 'activations',
    name,
  });
}

async function writeActivations(outputs: PromptOutputs): Promise<void> {
  const { paths, record, storage, hiddenSize } = outputs;
  const activations = new Map<string, Float32Array>();
  for (const point of storage.activationPoints) {
    const { prompt, response } = splitActivations(outputs, point);
    activations.set(activationTensorName('prompt', point), prompt);
    activations.set(activationTensorName('response', point), response);
  }
  await writeActivationFile(
    paths.activationFile(record.promptId),
    {
      variant: record.variant,
      model: record.model,
      promptId: record.promptId,
      promptTokenIds: Int32Array.from(record.promptTokenIds),
      responseTokenIds: Int32Array.from(record.responseTokenIds),
      hiddenSize,
      activations,
      dtype: storage.activationDtype,
      extra: fileMetadata(record),
    },
    activationTexts(record),
  );
}

async function writeProjections(outputs: PromptOutputs, bank: ProjectionBank): Promise<void> {
  const { paths, record, hiddenSize } = outputs;
  const projection: ProjectionRecord = {
    variant: record.variant,
    model: record.model,
    promptId: record.promptId,
    promptTokenIds: Int32Array.from(record.promptTokenIds),
    responseTokenIds: Int32Array.from(record.responseTokenIds),
    hiddenSize,
    columns: describeProjectionColumns(bank),
    projections: new Map(),
    norms: new Map(),
    extra: fileMetadata(record),
  };
  const inGraph = new Set(outputs.storage.graphProjections.map((entry) => formatHookPoint(entry.point)));
  for (const entry of bank.points) {
    const parts = inGraph.has(formatHookPoint(entry.point))
      ? graphProjectedParts(outputs, entry)
      : projectedParts(outputs, entry);
    for (const [part, { projections, norms }] of parts) {
      projection.projections.set(activationTensorName(part, entry.point), projections);
      projection.norms.set(activationTensorName(part, entry.point), norms);
    }
  }
  await writeProjectionFile(paths.projectionFile(record.promptId), projection);
}

type ProjectedPart = readonly ['prompt' | 'response', { projections: Float32Array; norms: Float32Array }];

/** The graph projected onto the unit vectors, so its dot products already are h.v/|v|. */
function graphProjectedParts(
  { record, forward }: PromptOutputs,
  entry: ProjectionBankPoint,
): ProjectedPart[] {
  const name = formatHookPoint(entry.point);
  const projections = splitAtPrompt(record, forward.projections.get(name), {
    width: entry.columns.length,
    what: 'projections',
    name,
  });
  const norms = splitAtPrompt(record, forward.norms.get(name), { width: 1, what: 'activation norms', name });
  return (['prompt', 'response'] as const).map((part) => [
    part,
    { projections: projections[part], norms: norms[part] },
  ]);
}

/** Projects the captured activations of a point whose activations are stored too. */
function projectedParts(outputs: PromptOutputs, entry: ProjectionBankPoint): ProjectedPart[] {
  const { record, hiddenSize } = outputs;
  const { prompt, response } = splitActivations(outputs, entry.point);
  return [
    ['prompt', projectCapturedTokens(prompt, record.promptTokenIds.length, entry, hiddenSize)],
    ['response', projectCapturedTokens(response, record.responseTokenIds.length, entry, hiddenSize)],
  ];
}
