import type { LanguageModel, LoadModelOptions } from '@traitlens/model-runtime';
import { createProgressDisplay, type ProgressDisplay, type ProgressTask } from './progress-display';
import { type ModelCommandOptions, toLoadModelOptions } from './shared-options';

const stageLabels = { download: 'downloading', convert: 'converting weights' } as const;

/**
 * Hub download and weight-conversion progress as display tasks (both happen once; a cached model loads
 * without showing anything): bars on a terminal, periodic lines otherwise.
 */
export function modelLoadProgress(
  display: ProgressDisplay,
): Required<Pick<LoadModelOptions, 'onProgress'>> & { finish(): void } {
  let task: ProgressTask | undefined;
  let key: string | undefined;
  const finish = () => {
    task?.finish();
    task = undefined;
    key = undefined;
  };
  return {
    finish,
    onProgress: (event) => {
      const eventKey = event.stage === 'download' ? `${event.stage} ${event.item}` : event.stage;
      if (eventKey !== key) {
        finish();
        key = eventKey;
        task = display.task(
          event.stage === 'download' ? `${stageLabels.download} ${event.item}` : stageLabels.convert,
          { total: event.total, unit: event.stage === 'download' ? 'bytes' : 'tensors' },
        );
      }
      task?.update(event.done, event.total, event.stage === 'convert' ? event.item : undefined);
    },
  };
}

/**
 * Calls that do not name a LoRA scale get `scale`: how `--lora-scale` reaches library code (extraction,
 * steering) that calls generate/forward/score without knowing about adapters.
 */
export function withDefaultLoraScale(model: LanguageModel, scale: number): LanguageModel {
  if (scale === 1) return model;
  const scaled = (options: { loraScale?: unknown } | undefined) =>
    options?.loraScale === undefined ? { ...options, loraScale: scale } : options;
  const scaledMethods = new Set<PropertyKey>(['forward', 'score', 'generate']);
  return new Proxy(model, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (scaledMethods.has(property))
        return (inputs: unknown, options?: { loraScale?: unknown }) =>
          value.call(target, inputs, scaled(options));
      return value.bind(target);
    },
  });
}

/**
 * loadModel for a command's parsed model options, with download/conversion progress, the LoRA scale
 * applied to every call, and model-runtime's warnings (provider fallbacks) printed.
 */
export async function loadModelForCli(
  options: ModelCommandOptions,
  settings: { display?: ProgressDisplay; extra?: Partial<LoadModelOptions> } = {},
): Promise<LanguageModel> {
  const { loadModel } = await import('@traitlens/model-runtime');
  const display = settings.display ?? createProgressDisplay();
  const progress = modelLoadProgress(display);
  try {
    const model = await loadModel(options.model, {
      ...toLoadModelOptions(options),
      ...settings.extra,
      onProgress: progress.onProgress,
      onWarning: (message) => display.log(`warning: ${message}`),
    });
    return options.lora ? withDefaultLoraScale(model, options.loraScale) : model;
  } finally {
    progress.finish();
    if (!settings.display) display.stop();
  }
}
