import type { SteeringResults, SteeringRunRecord, SteeringSearchRecord } from './steering-results';

/**
 * A plain-text table of a steering evaluation for the terminal: the baseline, every step of every
 * candidate (coefficient, perturbation ratio, trait and coherence means), and the best per candidate.
 */
export function formatSteeringSummary(
  results: SteeringResults,
  searches: readonly SteeringSearchRecord[] = results.searches,
): string {
  const runsById = new Map(results.runs.map((run) => [run.id, run]));
  const lines: string[] = [];
  const { context } = results;
  lines.push(
    `trait ${context.trait} | model ${context.model} | judge ${context.judge} | ${context.questions.count} questions | ${context.generation.maxNewTokens} new tokens`,
  );
  const baseline = results.baseline;
  lines.push(
    `baseline: trait ${formatScore(baseline?.traitMean ?? null)}, coherence ${formatScore(baseline?.coherenceMean ?? null)}`,
  );
  for (const search of searches) {
    lines.push('');
    const threshold = search.settings.coherenceThreshold;
    lines.push(
      `${search.kind} search${typeof threshold === 'number' ? ` (coherent = coherence >= ${threshold})` : ''}`,
    );
    const rows: string[][] = [
      ['candidate', 'step', 'coefficient', 'ratio', 'trait', 'coherence', 'coherent'],
    ];
    for (const candidate of search.candidates) {
      for (const step of candidate.steps) {
        const run = runsById.get(step.runId);
        rows.push([
          candidate.id,
          String(step.step),
          formatNumber(step.coefficient),
          formatRatio(run),
          formatScore(step.traitMean),
          formatScore(step.coherenceMean),
          step.coherent ? 'yes' : 'no',
        ]);
      }
    }
    lines.push(...alignColumns(rows));
    lines.push('best:');
    for (const candidate of search.candidates) {
      const best = candidate.best;
      if (!best) {
        lines.push(`  ${candidate.id}: no coherent step`);
        continue;
      }
      const delta =
        candidate.traitDelta === null
          ? ''
          : ` (${candidate.traitDelta >= 0 ? '+' : ''}${candidate.traitDelta.toFixed(1)})`;
      lines.push(
        `  ${candidate.id}: coefficient ${formatNumber(best.coefficient)}, ratio ${formatRatio(runsById.get(best.runId))}, trait ${formatScore(best.traitMean)}${delta}, coherence ${formatScore(best.coherenceMean)}`,
      );
    }
  }
  return lines.join('\n');
}

function formatRatio(run: SteeringRunRecord | undefined): string {
  const ratios =
    run?.interventions
      .map((intervention) => intervention.perturbationRatio)
      .filter((ratio): ratio is number => ratio !== null) ?? [];
  return ratios.length === 0 ? '-' : ratios.map((ratio) => ratio.toFixed(2)).join('+');
}

function formatScore(value: number | null): string {
  return value === null ? '-' : value.toFixed(1);
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 || Math.abs(value) < 0.01 ? value.toPrecision(4) : value.toFixed(3);
}

function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map(
    (row) =>
      `  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}`,
  );
}
