import type { TopLevelSpec } from 'vega-lite';
import type { RocCurve } from '../stats/roc-curve';
import { plotConfig } from './plot-theme';

/** ROC curves (e.g. trait classifier, random-vector classifier, held-out biases) with the chance diagonal. */
export function createRocCurveSpec(
  curves: readonly { name: string; curve: RocCurve }[],
  options: { title?: string } = {},
): TopLevelSpec {
  const points = curves.flatMap(({ name, curve }) =>
    curve.falsePositiveRates.map((fpr, i) => ({
      curve: `${name} (AUROC ${curve.auroc.toFixed(3)})`,
      order: i,
      fpr,
      tpr: curve.truePositiveRates[i]!,
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: plotConfig,
    title: options.title ?? 'ROC',
    width: 300,
    height: 300,
    layer: [
      {
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
      {
        data: { values: points },
        mark: { type: 'line' },
        encoding: {
          x: {
            field: 'fpr',
            type: 'quantitative',
            title: 'false-positive rate',
            scale: { domain: [0, 1], nice: false },
          },
          y: {
            field: 'tpr',
            type: 'quantitative',
            title: 'true-positive rate',
            scale: { domain: [0, 1], nice: false },
          },
          color: {
            field: 'curve',
            type: 'nominal',
            title: null,
            legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 },
          },
          order: { field: 'order', type: 'quantitative' },
          tooltip: [
            { field: 'curve', type: 'nominal' },
            { field: 'fpr', type: 'quantitative', format: '.3f' },
            { field: 'tpr', type: 'quantitative', format: '.3f' },
          ],
        },
      },
    ],
  };
}
