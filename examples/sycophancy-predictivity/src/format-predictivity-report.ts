import type { PredictivityStudyResult } from './run-predictivity-study';

const format = (value: number | null, digits = 3) =>
  value === null ? '   -  ' : value.toFixed(digits).padStart(6);

/** A terminal summary: labels, AUROC / r per layer for the CAA vector, consistency and ablation. */
export function formatPredictivityReport(result: PredictivityStudyResult): string {
  const lines: string[] = [];
  lines.push(
    `model ${result.model.id} (${result.model.promptFormat} prompts), layers ${result.settings.layers.join(', ')}`,
  );
  for (const [set, labels] of Object.entries(result.labels))
    lines.push(
      `${set}: sycophantic choice ${labels.sycophantic}/${labels.n} (${(labels.rate * 100).toFixed(1)}%), mean log-prob margin ${labels.meanMargin.toFixed(3)}`,
    );
  lines.push('', 'CAA vector (answer letter, all items): cosine(activation, vector) vs sycophantic choice');
  lines.push('set                  position      layer  AUROC  95% interval      r       p');
  for (const table of result.predictivity.filter((entry) => entry.vector === 'letter')) {
    for (const row of table.layers) {
      lines.push(
        `${table.set.padEnd(20)} ${table.position.padEnd(12)} ${String(row.layer).padStart(6)} ${format(row.auroc)}  ${row.aurocInterval ? `[${row.aurocInterval[0].toFixed(2)}, ${row.aurocInterval[1].toFixed(2)}]` : '       -    '}  ${format(row.r)} ${format(row.p)}`,
      );
    }
  }
  lines.push('', 'vector consistency (cosine with the CAA vector), per layer:');
  for (const layer of result.consistency) {
    const row = layer.cosines[layer.variants.indexOf('letter')]!;
    lines.push(
      `  layer ${String(layer.layer).padStart(3)}: ${layer.variants
        .map((variant, i) => (variant === 'letter' ? undefined : `${variant} ${row[i]!.toFixed(2)}`))
        .filter(Boolean)
        .join(', ')}`,
    );
  }
  const ablation = result.ablation;
  lines.push(
    '',
    `directional ablation on ${ablation.items} in-distribution items: unablated rate ${(ablation.baselineRate * 100).toFixed(1)}%${ablation.baselineAgreesWithScore ? '' : ' (differs from the score labels!)'}`,
  );
  for (const entry of ablation.results)
    lines.push(
      `  layers ${entry.layers.join(',').padEnd(12)} rate ${(entry.rate * 100).toFixed(1)}% (${entry.change >= 0 ? '+' : ''}${(entry.change * 100).toFixed(1)} points; ${entry.fromSycophantic} left, ${entry.toSycophantic} became sycophantic; margin ${entry.meanMarginChange >= 0 ? '+' : ''}${entry.meanMarginChange.toFixed(3)})`,
    );
  return lines.join('\n');
}
