import { TraitlensError } from '@traitlens/core';
import { assertHookPoint } from '@traitlens/core/internal';
import type { GenerateOptions, GenerationResult, LanguageModel, PromptInput } from '@traitlens/model-runtime';
import { buildSteeringSpecs } from './build-steering-specs';
import type { SteeringConfiguration } from './steering-configuration';

export interface SteeredGenerationRequest {
  prompts: readonly PromptInput[];
  /** Each configuration answers every prompt; an empty configuration is the unsteered model. */
  configurations: readonly SteeringConfiguration[];
  /** Decoding settings shared by all rows (greedy unless a temperature is given). */
  generation?: Omit<GenerateOptions, 'steer' | 'onToken'>;
  /** Rows per `generate` call (default 16); rows of different configurations share a call. */
  batchSize?: number;
  /** Called after each batched call. */
  onBatch?: (progress: { rowsDone: number; rowsTotal: number }) => void;
}

/**
 * Generates the answers of every configuration to every prompt, packing (configuration, prompt) rows
 * into batched `generate` calls. Returns `results[configuration][prompt]`.
 *
 * Every call receives the same set of steering specs (coefficient 0 where a row does not use one),
 * so the runtime sees one hook plan for the whole request and never rebuilds its graph between
 * batches.
 */
export async function generateSteered(
  model: LanguageModel,
  request: SteeredGenerationRequest,
): Promise<GenerationResult[][]> {
  const { prompts, configurations } = request;
  const batchSize = request.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new TraitlensError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}.`, {
      details: { batchSize },
    });
  }
  for (const configuration of configurations) assertConfigurationFitsModel(configuration, model);

  const rowPrompts: PromptInput[] = [];
  const rowConfigurations: SteeringConfiguration[] = [];
  for (const configuration of configurations) {
    for (const prompt of prompts) {
      rowPrompts.push(prompt);
      rowConfigurations.push(configuration);
    }
  }
  const specs = buildSteeringSpecs(rowConfigurations);
  const rowResults: GenerationResult[] = [];
  for (let start = 0; start < rowPrompts.length; start += batchSize) {
    const end = Math.min(start + batchSize, rowPrompts.length);
    const steer = specs.map((spec) => ({ ...spec, coefficient: spec.coefficient.slice(start, end) }));
    const results = await model.generate(rowPrompts.slice(start, end), {
      ...request.generation,
      ...(steer.length > 0 ? { steer } : {}),
    });
    if (results.length !== end - start) {
      throw new TraitlensError(
        'RUNTIME_ERROR',
        `generate returned ${results.length} rows for a batch of ${end - start}.`,
      );
    }
    rowResults.push(...results);
    request.onBatch?.({ rowsDone: end, rowsTotal: rowPrompts.length });
  }
  return configurations.map((_, index) =>
    rowResults.slice(index * prompts.length, (index + 1) * prompts.length),
  );
}

function assertConfigurationFitsModel(configuration: SteeringConfiguration, model: LanguageModel): void {
  for (const spec of configuration) {
    // The one hook-point check capture uses too: a hook site, and a layer the model has.
    assertHookPoint(spec.point, model.config.layerCount, 'Steering');
    if (spec.vector.length !== model.config.hiddenSize) {
      throw new TraitlensError(
        'MODEL_MISMATCH',
        `A steering vector for layer ${spec.point.layer} has ${spec.vector.length} values but ${model.id} has hidden size ${model.config.hiddenSize}. Use vectors extracted from a model of the same width.`,
        { details: { expected: model.config.hiddenSize, actual: spec.vector.length } },
      );
    }
    if (!Number.isFinite(spec.coefficient)) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Steering coefficient for layer ${spec.point.layer} is ${spec.coefficient}; it must be a finite number.`,
      );
    }
  }
}
