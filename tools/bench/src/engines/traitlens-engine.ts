import { formatHookPoint, type HookPoint } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import {
  type BenchEngine,
  type BenchInputs,
  decodeTokensPerSecond,
  stepTokensPerSecond,
} from './bench-engine';

/** traitlens cases on a loaded model (the caller loads it with the threads, providers and dtype under test). */
export function traitlensEngine(
  model: LanguageModel,
  inputs: BenchInputs,
  decodeSteps: number,
  configuration: Record<string, unknown>,
): BenchEngine {
  const { layerCount, hiddenSize } = model.config;
  const allResidPost: HookPoint[] = Array.from({ length: layerCount }, (_, layer) => ({
    layer,
    site: 'resid_post',
  }));
  const vector = new Float32Array(hiddenSize).map((_, i) => Math.sin(i));
  const middle = Math.floor(layerCount / 2);
  const prefillTokens = inputs.prefill.length * inputs.prefill[0]!.length;
  const timeTokens = async (tokens: number, run: () => Promise<unknown>) => {
    const start = performance.now();
    await run();
    return tokens / ((performance.now() - start) / 1000);
  };
  const decode = (prompts: number[][]) =>
    decodeTokensPerSecond(prompts.length, decodeSteps, (newTokens) =>
      model.generate(prompts, { maxNewTokens: newTokens, stopTokenIds: [] }),
    );
  const cases: Record<string, () => Promise<number>> = {
    prefill_no_hooks: () =>
      timeTokens(prefillTokens, () => model.forward(inputs.prefill, { logits: 'last' })),
    prefill_capture_all_resid_post: () =>
      timeTokens(prefillTokens, async () => {
        const rows = await model.forward(inputs.prefill, { logits: 'last', capture: allResidPost });
        if (
          rows[0]!.captures.get(formatHookPoint(allResidPost[0]!))!.length !==
          inputs.prefill[0]!.length * hiddenSize
        )
          throw new Error('capture size');
      }),
    prefill_steer_one_layer: () =>
      timeTokens(prefillTokens, () =>
        model.forward(inputs.prefill, {
          logits: 'last',
          steer: [
            {
              point: { layer: middle, site: 'resid_post' },
              mode: 'add',
              vector,
              coefficient: 2,
              positions: 'all',
            },
          ],
        }),
      ),
    decode_batch_1: () => decode(inputs.decodePrompt.slice(0, 1)),
    decode_batch_8: () => decode(inputs.decodePrompt.slice(0, 8)),
  };
  for (const length of inputs.contextLengths)
    cases[`decode_context_${length}`] = () =>
      stepTokensPerSecond((onToken) =>
        model.generate(
          inputs.contextPrompt.map((row) => row.slice(0, length)),
          { maxNewTokens: decodeSteps + 1, stopTokenIds: [], onToken },
        ),
      );
  return {
    name: 'traitlens',
    configuration,
    cases: Object.keys(cases),
    run: (caseName) => cases[caseName]!(),
    dispose: () => model.dispose(),
  };
}
