/**
 * llama.cpp through node-llama-cpp (an optional dependency of tools/bench: its prebuilt CPU binaries come
 * from the npm package @node-llama-cpp/linux-x64 and friends). Loaded lazily so the benchmark runs
 * without it; nothing is downloaded or built at run time (`build: 'never'`, `skipDownload`).
 */
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';

export interface LlamaCppEngine {
  llama: Llama;
  loadModel(path: string): Promise<LlamaModel>;
  dispose(): Promise<void>;
}

/** The engine, or a sentence saying why it is unavailable. */
export async function openLlamaCpp(): Promise<LlamaCppEngine | string> {
  let module: typeof import('node-llama-cpp');
  try {
    module = await import('node-llama-cpp');
  } catch (error) {
    return `node-llama-cpp is not installed (${(error as Error).message.split('\n')[0]}); it is an optional dependency of tools/bench: pnpm install without --no-optional`;
  }
  try {
    const llama = await module.getLlama({
      build: 'never',
      gpu: false,
      usePrebuiltBinaries: true,
      skipDownload: true,
      progressLogs: false,
      logLevel: module.LlamaLogLevel.error,
    });
    return {
      llama,
      loadModel: (path) => llama.loadModel({ modelPath: path, gpuLayers: 0 }),
      dispose: () => llama.dispose(),
    };
  } catch (error) {
    return `node-llama-cpp has no prebuilt binary for this machine (${(error as Error).message.split('\n')[0]})`;
  }
}

/**
 * Greedy continuation of each prompt (token ids in, token ids out) on its own sequence, all rows decoded
 * together in their context. Each sequence's history is cleared first, so sequences can be reused.
 * `onToken` is called as each token arrives.
 */
export async function generateGreedy(
  sequences: readonly LlamaContextSequence[],
  prompts: readonly (readonly number[])[],
  newTokens: number,
  onToken?: () => void,
): Promise<number[][]> {
  if (sequences.length < prompts.length)
    throw new Error(`generateGreedy: ${prompts.length} prompts but ${sequences.length} sequences`);
  return Promise.all(
    prompts.map(async (prompt, row) => {
      const sequence = sequences[row]!;
      await sequence.clearHistory();
      const out: number[] = [];
      for await (const token of sequence.evaluate([...prompt] as never[], { temperature: 0 })) {
        out.push(token as unknown as number);
        onToken?.();
        if (out.length >= newTokens) break;
      }
      return out;
    }),
  );
}

/** Every sequence of a context, taken once and reused (a disposed sequence is not handed out again at once). */
export function allSequences(context: LlamaContext): LlamaContextSequence[] {
  return Array.from({ length: context.totalSequences }, () => context.getSequence());
}
