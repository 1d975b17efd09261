import {
  formatMemoryPlan,
  type MemoryPlan,
  type PlanMemoryForSourceOptions,
  planMemoryForSource,
} from '@traitlens/model-runtime';
import type { LayerSelectionConfig, RuntimeConfig } from '../config/experiment-config';
import type { Experiment } from '../config/load-experiment';
import { resolveLayers } from '../config/resolve-layers';
import { createTinyOrganism } from '../models/create-tiny-organism';

/** One model load of the study at the batch and sequence length of one stage. */
export interface StudyMemoryPlan {
  title: string;
  plan: MemoryPlan;
  text: string;
  fits: boolean | null;
}

function weightDtype(runtime: RuntimeConfig) {
  return runtime.dtype ?? 'fp32';
}

/**
 * Memory plans of the study's loads before anything is downloaded (only config.json and
 * adapter_config.json are fetched): extraction on the base model, steering and capture on the instruct
 * model with its switchable LoRA. Sequence lengths are budgets (prompt + generated tokens), not measurements.
 */
export async function planStudyMemory(
  experiment: Experiment,
  deviceBytes?: number,
): Promise<StudyMemoryPlan[]> {
  const { stages, models } = experiment.config;
  const { extract, capture, predictivity } = stages;
  // A generated tiny organism has no config to fetch: it is made first (milliseconds), as a run makes it.
  const tiny = experiment.config.tinyOrganism;
  if (tiny && experiment.tinyOrganismDirectory !== undefined)
    await createTinyOrganism(experiment.tinyOrganismDirectory, tiny);
  const lora = experiment.sources.lora;
  interface Load {
    title: string;
    source: string;
    runtime: RuntimeConfig;
    lora: string | undefined;
    batchSize: number;
    sequenceLength: number;
    capture: LayerSelectionConfig | undefined;
  }
  const loads: Load[] = [];
  if (extract && models.extraction && experiment.sources.extraction) {
    loads.push({
      title: `extract: ${models.extraction.source}`,
      source: experiment.sources.extraction,
      runtime: experiment.runtime.extraction,
      lora: undefined,
      batchSize: extract.batchSize,
      sequenceLength: 256 + extract.maxNewTokens,
      capture: extract.layers,
    });
    loads.push({
      title: `steer: ${models.instruct.source}${lora ? ' + LoRA at scale 0' : ''}`,
      source: experiment.sources.instruct,
      runtime: experiment.runtime.instruct,
      lora,
      batchSize: stages.steer.batchSize,
      sequenceLength: 128 + stages.steer.maxNewTokens,
      capture: undefined,
    });
  }
  if (capture)
    loads.push({
      title: `capture/replay: ${models.instruct.source} + LoRA`,
      source: experiment.sources.instruct,
      runtime: experiment.runtime.instruct,
      lora,
      batchSize: capture.batchSize,
      sequenceLength: 512 + capture.maxNewTokens,
      capture: capture.layers ?? extract?.layers ?? 'all',
    });
  if (predictivity) {
    const onExtraction = predictivity.model === 'extraction' && experiment.sources.extraction;
    loads.push({
      title: `predictivity: ${onExtraction ? models.extraction!.source : models.instruct.source}`,
      source: onExtraction ? experiment.sources.extraction! : experiment.sources.instruct,
      runtime: onExtraction ? experiment.runtime.extraction : experiment.runtime.instruct,
      lora: onExtraction ? undefined : lora,
      batchSize: predictivity.batchSize,
      // A/B items and contrast answers: a question and a short answer.
      sequenceLength: 512,
      capture: predictivity.layers ?? 'all',
    });
  }
  const plans: StudyMemoryPlan[] = [];
  for (const load of loads) {
    const planOptions: PlanMemoryForSourceOptions = {
      model: load.source,
      dtype: weightDtype(load.runtime),
      ...(load.runtime.blockSize ? { blockSize: load.runtime.blockSize } : {}),
      zeroPoints: load.runtime.zeroPoints,
      ...(load.runtime.computeDtype === 'fp16' ? { activationDtype: 'fp16' as const } : {}),
      ...(load.lora ? { lora: load.lora, loraMode: 'switchable' as const } : {}),
      batchSize: load.batchSize,
      sequenceLength: load.sequenceLength,
      logits: 'last',
    };
    const { plan, config } = await planMemoryForSource(planOptions);
    // Captured layers need the layer count, known only now; re-plan with them.
    const withCapture = load.capture
      ? (
          await planMemoryForSource({
            ...planOptions,
            captureLayers: resolveLayers(load.capture, config.layerCount, 'layers'),
          })
        ).plan
      : plan;
    plans.push({
      title: load.title,
      plan: withCapture,
      text: formatMemoryPlan(withCapture, deviceBytes),
      fits: deviceBytes === undefined ? null : withCapture.total <= deviceBytes,
    });
  }
  return plans;
}
