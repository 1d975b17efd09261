import type { AnalysisSummary } from './build-analysis-summary';

function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || Number.isNaN(p)) return 'n/a';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

const fixed = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);

/**
 * The analysis summary in a few lines for a terminal: findings only (Holm-adjusted p < alpha AND beyond
 * the random-direction null), then what is not distinguishable from chance and why, the detection result
 * against its chance level, and the verdict on the study's success criteria.
 */
export function formatAnalysisSummary(
  summary: AnalysisSummary,
  options: { maximumRows?: number } = {},
): string[] {
  const maximumRows = options.maximumRows ?? 8;
  const lines: string[] = [];
  const { alpha, familySize, randomNull } = summary.statistics;
  if (summary.variants.b !== null) {
    const nullText = randomNull
      ? `${randomNull.directions} ${randomNull.source === 'random-directions' ? 'random directions' : 'random baseline vectors'}, best of ${summary.projection.layers.length} layers`
      : 'no random null';
    lines.push(
      `findings (Holm p < ${alpha} over ${familySize ?? 0} tests AND beyond ${nullText}): ${summary.highlights.modelDiff.length}`,
    );
    for (const peak of summary.highlights.modelDiff.slice(0, maximumRows)) {
      const effect = 'd';
      lines.push(
        `  ${peak.vectorId.padEnd(32)} layer ${String(peak.peakLayer).padStart(3)}  ${effect} ${fixed(peak.effectSize).padStart(6)}  Holm p ${formatP(peak.pHolm)}  null p ${formatP(peak.traitRandomNullPHolm)} (random 95% ${fixed(peak.randomNull95)})`,
      );
    }
    const chance = summary.highlights.notDistinguishable;
    if (chance.length > 0) {
      lines.push(`not distinguishable from chance: ${chance.length}`);
      for (const peak of chance.slice(0, maximumRows))
        lines.push(
          `  ${peak.vectorId.padEnd(32)} ${(peak.reason ?? '').replace(/^not distinguishable from chance: /, '')}`,
        );
      if (chance.length > maximumRows)
        lines.push(`  ... ${chance.length - maximumRows} more in analysis/summary.json`);
    }
  }
  const detection = summary.highlights.detection;
  if (detection) {
    // Like the model diff: a finding only when the interval clears 0.5 and the permutation null is beaten.
    const beats =
      detection.cvAurocInterval[0] > 0.5 &&
      (detection.permutationP === null || detection.permutationP < alpha);
    const why = !(detection.cvAurocInterval[0] > 0.5)
      ? 'the AUROC interval reaches 0.5'
      : `permutation p ${formatP(detection.permutationP)} >= ${alpha}`;
    lines.push(
      `detection (nested ${detection.validation} CV): layer ${detection.layer}, AUROC ${fixed(detection.cvAuroc, 3)} [${fixed(detection.cvAurocInterval[0], 3)}, ${fixed(detection.cvAurocInterval[1], 3)}], accuracy ${fixed(detection.cvAccuracy * 100, 1)}% (majority ${fixed(detection.majorityRate * 100, 1)}%), random vectors ${fixed(detection.randomCvAuroc, 3)}${detection.permutationP === null ? '' : `, ${detection.permutationScheme} permutation p ${formatP(detection.permutationP)}`}${detection.heldOutAuroc === null ? '' : `, held-out groups AUROC ${fixed(detection.heldOutAuroc, 3)} [${fixed(detection.heldOutAurocInterval?.[0], 3)}, ${fixed(detection.heldOutAurocInterval?.[1], 3)}]`}${beats ? ': a finding' : `: not distinguishable from chance (${why})`}`,
    );
  }
  if (summary.verdict.length > 0) {
    lines.push('success criteria:');
    for (const row of summary.verdict)
      lines.push(`  ${row.status.toUpperCase().padEnd(7)} ${row.criterion}: ${row.evidence}`);
  }
  return lines;
}
