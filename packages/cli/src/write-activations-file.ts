import {
  formatHookPoint,
  type HookPoint,
  layerConvention,
  parseLayerSelection,
  type SafetensorsTensorInput,
  TraitlensError,
  writeSafetensors,
} from '@traitlens/core';
import { assertHookSite } from '@traitlens/core/internal';
import { loadModelForCli } from './load-model-for-cli';
import { describeLoraScaleProblem, type ModelCommandOptions } from './shared-options';

export interface WriteActivationsOptions extends ModelCommandOptions {
  text?: string;
  /** Token ids, used as given (checked against the vocabulary by the model). */
  ids?: number[];
  layers: string;
  sites: string[];
  output: string;
}

/**
 * The `activations` command: one forward pass, every requested site and layer saved as `{site}.{layer}`
 * [n_tokens, hidden] f32, plus `logits` [n_tokens, vocab] and `token_ids`.
 */
export async function writeActivationsFile(
  options: WriteActivationsOptions,
): Promise<{ tensorCount: number; tokenCount: number }> {
  if ((options.text === undefined) === (options.ids === undefined)) {
    throw new TraitlensError('INVALID_ARGUMENT', 'Pass exactly one of --text or --ids.');
  }
  for (const site of options.sites) assertHookSite(site, '--sites');
  const loraProblem = describeLoraScaleProblem(options);
  if (loraProblem) throw new TraitlensError('INVALID_ARGUMENT', loraProblem);
  const model = await loadModelForCli(options);
  try {
    const layers = parseLayerSelection(options.layers, model.config.layerCount);
    const capture: HookPoint[] = layers.flatMap((layer) =>
      options.sites.map((site) => ({ layer, site: site as HookPoint['site'] })),
    );
    const input = options.ids ?? model.encodePrompt(options.text!);
    const [row] = await model.forward([input], { capture });
    if (!row)
      throw new TraitlensError('RUNTIME_ERROR', `${model.id} returned no row for the one prompt given.`);
    const tokenCount = row.tokenIds.length;
    const tensors: Record<string, SafetensorsTensorInput> = {
      token_ids: { dtype: 'I32', shape: [tokenCount], data: Int32Array.from(row.tokenIds) },
      logits: { dtype: 'F32', shape: [tokenCount, model.config.vocabSize], data: row.logits },
    };
    for (const point of capture) {
      const name = formatHookPoint(point);
      tensors[name] = {
        dtype: 'F32',
        shape: [tokenCount, model.config.hiddenSize],
        data: row.captures.get(name)!,
      };
    }
    await writeSafetensors(options.output, tensors, {
      format: 'traitlens.forward-activations',
      format_version: '1',
      model: model.id,
      layer_convention: layerConvention,
      layers: JSON.stringify(layers),
      sites: JSON.stringify(options.sites),
      token_strings: JSON.stringify(model.tokenizer.tokenStrings(row.tokenIds)),
    });
    return { tensorCount: Object.keys(tensors).length, tokenCount };
  } finally {
    await model.dispose();
  }
}
