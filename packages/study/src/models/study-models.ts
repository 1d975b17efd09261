import { type LanguageModel, type LoadModelOptions, loadModel } from '@traitlens/model-runtime';
import type { RuntimeConfig } from '../config/experiment-config';
import type { Experiment } from '../config/load-experiment';
import type { StageProgress } from '../stages/stage-context';
import { createStageProgressTracker } from '../stages/stage-progress';

/** loadModel options from a runtime block; with a progress display, downloads and conversion show on it. */
export function toLoadModelOptions(
  runtime: RuntimeConfig,
  log: (line: string) => void,
  progress?: StageProgress,
): LoadModelOptions {
  let lastReport = 0;
  const tracker = createStageProgressTracker({ progress });
  return {
    ...(runtime.dtype ? { dtype: runtime.dtype } : {}),
    ...(runtime.computeDtype ? { computeDtype: runtime.computeDtype } : {}),
    ...(runtime.blockSize ? { blockSize: runtime.blockSize } : {}),
    zeroPoints: runtime.zeroPoints,
    ...(runtime.providers ? { providers: runtime.providers } : {}),
    ...(runtime.threads ? { threads: runtime.threads } : {}),
    ...(runtime.cacheDirectory ? { cacheDirectory: runtime.cacheDirectory } : {}),
    // Downloads and weight conversion of a 70B model take a long while: a line every 30 s shows life.
    onProgress: (event) => {
      if (tracker.active) {
        // A download per file (bytes); the conversion as one task over all weights.
        const key = event.stage === 'download' ? `download ${event.item}` : 'convert weights';
        tracker.update(key, event.done, event.total, event.stage === 'download' ? 'bytes' : 'tensors');
        return;
      }
      const now = Date.now();
      if (now - lastReport < 30_000 && event.done < event.total) return;
      lastReport = now;
      log(`  ${event.stage} ${event.item}: ${event.done}/${event.total}`);
    },
    onWarning: (message) => log(`  warning: ${message}`),
  };
}

/**
 * The two model loads of the study, one at a time (two 70B models never fit together): the base model
 * for extraction, and the instruct model with the organism's LoRA in switchable mode, which serves
 * steering (scale 0), capture (scale 1) and replay (scale 0) from one load.
 */
export class StudyModels {
  private loaded: { role: 'extraction' | 'organism'; model: LanguageModel } | undefined;

  constructor(
    private readonly experiment: Experiment,
    private readonly log: (line: string) => void,
    private readonly progress?: StageProgress,
  ) {}

  async extractionModel(): Promise<LanguageModel> {
    return this.acquire('extraction', () =>
      loadModel(
        // The config check requires models.extraction wherever a stage asks for this model.
        this.experiment.sources.extraction!,
        toLoadModelOptions(this.experiment.runtime.extraction, this.log, this.progress),
      ),
    );
  }

  /**
   * The instruct model carrying the adapter; pick the variant with `loraScale` (see createLoraScaleView).
   * Without models.lora, the instruct model alone.
   */
  async organismModel(): Promise<LanguageModel> {
    const lora = this.experiment.sources.lora;
    return this.acquire('organism', () =>
      loadModel(this.experiment.sources.instruct, {
        ...toLoadModelOptions(this.experiment.runtime.instruct, this.log, this.progress),
        ...(lora ? { lora: { source: lora, mode: 'switchable' as const } } : {}),
      }),
    );
  }

  async dispose(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    await loaded?.model.dispose();
  }

  private async acquire(
    role: 'extraction' | 'organism',
    load: () => Promise<LanguageModel>,
  ): Promise<LanguageModel> {
    if (this.loaded?.role === role) return this.loaded.model;
    await this.dispose();
    const source =
      role === 'extraction' ? this.experiment.sources.extraction : this.experiment.sources.instruct;
    this.log(
      `loading ${source}${role === 'organism' && this.experiment.sources.lora ? ` + LoRA ${this.experiment.sources.lora} (switchable)` : ''}`,
    );
    const started = performance.now();
    const model = await load();
    this.log(`  loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    this.loaded = { role, model };
    return model;
  }
}
