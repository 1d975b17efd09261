import type { LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { allSequences, generateGreedy, type LlamaCppEngine } from '../llama-cpp/llama-cpp-engine';
import {
  type BenchEngine,
  type BenchInputs,
  decodeTokensPerSecond,
  stepTokensPerSecond,
} from './bench-engine';

/**
 * llama.cpp cases on a converted GGUF (same weights as traitlens). One context per shape, created up
 * front with room for the case's rows and tokens: batch 1024 so an 8x128 prefill is one llama_decode.
 * Hooks have no llama.cpp equivalent here: only prefill without hooks and decode are measured.
 */
export async function llamaCppEngine(
  engine: LlamaCppEngine,
  ggufPath: string,
  inputs: BenchInputs,
  options: { threads: number; decodeSteps: number; configuration: Record<string, unknown> },
): Promise<BenchEngine> {
  const model: LlamaModel = await engine.loadModel(ggufPath);
  const contexts: LlamaContext[] = [];
  const context = async (sequences: number, tokensPerSequence: number) => {
    const created = await model.createContext({
      sequences,
      contextSize: sequences * (tokensPerSequence + 8),
      batchSize: 1024,
      threads: options.threads,
    });
    contexts.push(created);
    return allSequences(created);
  };
  const { decodeSteps } = options;
  const prefillContext = await context(inputs.prefill.length, inputs.prefill[0]!.length);
  const decodeContext = await context(
    inputs.decodePrompt.length,
    inputs.decodePrompt[0]!.length + decodeSteps + 1,
  );
  const longest = Math.max(0, ...inputs.contextLengths);
  const longContext = longest > 0 ? await context(1, longest + decodeSteps + 1) : undefined;
  const decode = (sequences: LlamaContextSequence[], prompts: number[][]) =>
    decodeTokensPerSecond(prompts.length, decodeSteps, (newTokens) =>
      generateGreedy(sequences, prompts, newTokens),
    );
  const cases: Record<string, () => Promise<number>> = {
    prefill_no_hooks: async () => {
      await Promise.all(prefillContext.map((sequence) => sequence.clearHistory()));
      const start = performance.now();
      await Promise.all(
        inputs.prefill.map((row, index) =>
          prefillContext[index]!.evaluateWithoutGeneratingNewTokens(row as never[]),
        ),
      );
      return (inputs.prefill.length * inputs.prefill[0]!.length) / ((performance.now() - start) / 1000);
    },
    decode_batch_1: () => decode(decodeContext, inputs.decodePrompt.slice(0, 1)),
    decode_batch_8: () => decode(decodeContext, inputs.decodePrompt.slice(0, 8)),
  };
  for (const length of inputs.contextLengths)
    cases[`decode_context_${length}`] = () =>
      stepTokensPerSecond((onToken) =>
        generateGreedy(
          longContext!,
          inputs.contextPrompt.map((row) => row.slice(0, length)),
          decodeSteps + 1,
          onToken,
        ),
      );
  return {
    name: 'llama.cpp',
    configuration: options.configuration,
    cases: Object.keys(cases),
    run: (caseName) => cases[caseName]!(),
    dispose: async () => {
      for (const created of contexts) await created.dispose();
      await model.dispose();
    },
  };
}
