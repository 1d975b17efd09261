import type { Command } from 'commander';
import { addModelOptions, layersOption, type ModelCommandOptions } from '../shared-options';

interface PredictivityCommandOptions extends ModelCommandOptions {
  vectors: string;
  contrastSet: string;
  layers?: string;
  output: string;
}

export function registerPredictivityCommand(program: Command): void {
  const command = program
    .command('predictivity')
    .description(
      'Does a trait vector predict the behaviour on free text? Reads a contrast set [{question, answer, contrastive_answer}], runs question + each answer through the model, projects the mean answer activation onto the vector per layer, and reports AUROC, point-biserial r and paired accuracy of answer vs contrastive answer, as JSON and a by-layer plot. See docs/study.md.',
    );
  addModelOptions(command);
  command
    .requiredOption('--vectors <file>', 'a trait vector file (extract, model-diff or caa)')
    .requiredOption('--contrast-set <file>', 'JSON array of {question, answer, contrastive_answer}')
    .addOption(layersOption('layers to measure (default: every layer of the vector file)'))
    .requiredOption('--output <dir>', 'folder for predictivity.json and predictivity.svg')
    .action(async (options: PredictivityCommandOptions) => {
      const [study, core, analysis, { loadModelForCli }, { join, relative }, { mkdir }] = await Promise.all([
        import('@traitlens/study'),
        import('@traitlens/core'),
        import('@traitlens/analysis'),
        import('../load-model-for-cli'),
        import('node:path'),
        import('node:fs/promises'),
      ]);
      // Cheap checks first: the contrast set and the vector file, before the model loads.
      const items = await study.readContrastSet(options.contrastSet);
      const vectors = await core.readTraitVectors(options.vectors);
      const model = await loadModelForCli(options);
      try {
        const layers = options.layers
          ? core.parseLayerSelection(options.layers, model.config.layerCount)
          : undefined;
        const results = await study.measureContrastPredictivity({
          model,
          items,
          vectors,
          ...(layers ? { layers } : {}),
          onProgress: (done, total) => process.stderr.write(`  ${done}/${total} rows\n`),
        });
        await mkdir(options.output, { recursive: true });
        const file = join(options.output, 'predictivity.json');
        await core.writeJsonAtomic(file, {
          format: 'traitlens.contrast-predictivity',
          formatVersion: '1',
          model: model.id,
          vectors: options.vectors,
          contrastSet: options.contrastSet,
          items: items.length,
          layers: results,
        });
        const svg = await analysis.renderPlotSvg(
          analysis.createMetricByLayerSpec(
            results.flatMap((entry) => [
              { layer: entry.layer, series: vectors.metadata.trait, panel: 'AUROC', value: entry.auroc },
              {
                layer: entry.layer,
                series: vectors.metadata.trait,
                panel: 'point-biserial r',
                value: entry.pointBiserialR,
              },
            ]),
            {
              title: `Predictivity on ${items.length} contrast items`,
              chance: { AUROC: { value: 0.5 }, 'point-biserial r': { value: 0 } },
            },
          ),
        );
        await core.writeFileAtomic(join(options.output, 'predictivity.svg'), svg);
        const best = [...results].sort((a, b) => b.auroc - a.auroc)[0];
        process.stdout.write(
          `${items.length} items, ${results.length} layers; best layer ${best?.layer} (AUROC ${best?.auroc.toFixed(3)}, r ${best?.pointBiserialR.toFixed(3)}) -> ${relative(process.cwd(), file)}\n`,
        );
      } finally {
        await model.dispose();
      }
    });
}
