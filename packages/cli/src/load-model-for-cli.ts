import type { ExecutionProviderName, LanguageModel, LoadModelOptions } from '@traitlens/model-runtime';
import { SingleBar } from 'cli-progress';

export interface CliModelOptions {
  dtype?: LoadModelOptions['dtype'];
  blockSize?: LoadModelOptions['blockSize'];
  threads?: number;
  providers?: string[];
  lora?: string;
  loraMode?: 'switchable' | 'merged';
}

const stages = { download: 'downloading', convert: 'converting weights' } as const;

/**
 * loadModel with a progress bar on stderr for hub downloads and weight conversion (both happen once; a
 * cached model loads without showing anything).
 */
export async function loadModelForCli(source: string, options: CliModelOptions): Promise<LanguageModel> {
  const { loadModel } = await import('@traitlens/model-runtime');
  let bar: SingleBar | undefined;
  let stage: string | undefined;
  const finish = () => {
    bar?.stop();
    bar = undefined;
  };
  try {
    return await loadModel(source, {
      ...(options.dtype ? { dtype: options.dtype } : {}),
      ...(options.blockSize ? { blockSize: options.blockSize } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.providers?.length ? { providers: options.providers as ExecutionProviderName[] } : {}),
      ...(options.lora ? { lora: { source: options.lora, mode: options.loraMode ?? 'switchable' } } : {}),
      onProgress: (event) => {
        if (!process.stderr.isTTY) return;
        const label = `${stages[event.stage]} ${event.item}`;
        if (stage !== event.stage) {
          finish();
          stage = event.stage;
          bar = new SingleBar({
            format: '{label} [{bar}] {percentage}%',
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
          });
          bar.start(event.total, 0, { label });
        }
        bar?.setTotal(event.total);
        bar?.update(event.done, { label });
      },
    });
  } finally {
    finish();
  }
}
