import type * as vega from 'vega';
import type { ModelDiffEntry } from '../diff/compute-model-diff';
import type { ReportChart, ReportSection } from './build-report-charts';
import { chooseFocus } from './build-report-charts';
import type { ReportInputs } from './read-report-inputs';
import { reportClientScript } from './report-client-script';

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[character]!,
  );
}

/** JSON placed inside <script>: `</script` would end the element early (`<\/` means the same in JSON). */
function escapeJsonForScript(text: string): string {
  return text.replace(/<\//g, '<\\/').replace(/<!--/g, '<\\u0021--');
}

/** Code placed inside <script>: only the sequences the HTML parser reacts to are broken up. */
function escapeCodeForScript(text: string): string {
  return text.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
}

function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  if (value !== 0 && (Math.abs(value) < 10 ** -digits || Math.abs(value) >= 1e5))
    return value.toExponential(1);
  return value.toFixed(digits);
}

function formatP(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return value < 1e-3 ? value.toExponential(1) : value.toFixed(3);
}

interface Cell {
  text: string;
  /** Sort key (numbers sort numerically). */
  value?: number | string | null;
}

function renderTable(
  headers: readonly string[],
  rows: readonly Cell[][],
  options: { caption?: string; id?: string } = {},
): string {
  const head = headers.map((header) => `<th title="click to sort">${escapeHtml(header)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr>${row.map((cell) => `<td data-value="${escapeHtml(cell.value === null || cell.value === undefined ? '' : String(cell.value))}">${escapeHtml(cell.text)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<div class="table-scroll"><table class="sortable"${options.id ? ` id="${options.id}"` : ''}>${options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : ''}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

const number = (value: number | null | undefined, digits = 3): Cell => ({
  text: formatNumber(value, digits),
  value: value ?? null,
});
const text = (value: string): Cell => ({ text: value, value });

function renderCharts(charts: readonly ReportChart[], section: ReportSection): string {
  return charts
    .filter((chart) => chart.section === section)
    .map(
      (chart) =>
        `<figure><div class="chart" data-chart="${chart.id}" id="chart-${chart.id}"></div><figcaption>${escapeHtml(chart.caption)}</figcaption></figure>`,
    )
    .join('\n');
}

function findingsList(inputs: ReportInputs): string[] {
  const findings: string[] = [];
  const summary = inputs.summary;
  const diff = inputs.modelDiff?.subsets.find((subset) => subset.subset === 'all');
  if (summary && diff) {
    const chance = new Map(diff.randomBaselineMaxAbsD.map((row) => [row.layer, row.maxAbsD]));
    for (const peak of diff.peaks
      .filter((p) => !p.isRandomBaseline)
      .sort((x, y) => Math.abs(y.cohensD) - Math.abs(x.cohensD))
      .slice(0, 5)) {
      const random = chance.get(peak.peakLayer);
      findings.push(
        `${peak.vectorId}: d = ${formatNumber(peak.cohensD, 2)} [${formatNumber(peak.cohensDInterval[0], 2)}, ${formatNumber(peak.cohensDInterval[1], 2)}] at layer ${peak.peakLayer} (paired d ${formatNumber(peak.pairedD, 2)}, Welch p ${formatP(peak.p)})${random === undefined ? '' : `; random vectors reach |d| <= ${formatNumber(random, 2)} there`}.`,
      );
    }
  }
  const detection = inputs.detection;
  if (detection?.best) {
    const layer = detection.perLayer.find((row) => row.layer === detection.best!.layer);
    findings.push(
      `Detection: best layer ${detection.best.layer}, cross-validated AUROC ${formatNumber(detection.best.cvAuroc)} and accuracy ${formatNumber(detection.best.cvAccuracy)} (random vectors: AUROC ${formatNumber(layer?.randomCvAuroc)})` +
        (detection.permutation
          ? `; permutation p = ${formatP(detection.permutation.pValue)} (${detection.permutation.permutations} permutations, chance 95th percentile ${formatNumber(detection.permutation.null95)})`
          : '') +
        (detection.generalization
          ? `; trained on biases ${detection.generalization.trainGroups.join(', ')}, AUROC ${formatNumber(detection.generalization.testAuroc)} on held-out biases ${detection.generalization.testGroups.join(', ')}`
          : '') +
        '.',
    );
  }
  for (const row of inputs.predictivity?.summary.slice(0, 6) ?? []) {
    if (row.vectorId.startsWith('random/')) continue;
    const best = row.best
      .map(
        (entry) =>
          `${entry.set}: AUROC ${formatNumber(entry.auroc)} at layer ${entry.layer} (r ${formatNumber(entry.r, 2)})`,
      )
      .join('; ');
    const flips =
      row.signFlips.length > 0
        ? `; r changes sign between layers ${row.signFlips.map((flip) => `${flip.fromLayer}->${flip.toLayer}`).join(', ')}`
        : '';
    findings.push(`Predictivity of ${row.vectorId}: ${best}${flips}.`);
  }
  return findings;
}

function modelDiffTable(inputs: ReportInputs): string {
  const file = inputs.modelDiff;
  const all = file?.subsets.find((subset) => subset.subset === 'all');
  if (!file || !all) return '';
  const chance = new Map(all.randomBaselineMaxAbsD.map((row) => [row.layer, row.maxAbsD]));
  const token = new Map(file.tokenLevel.map((row) => [`${row.vectorId}@${row.layer}`, row]));
  const entryAt = (vectorId: string, layer: number): ModelDiffEntry | undefined =>
    all.entries.find((entry) => entry.vectorId === vectorId && entry.layer === layer);
  const otherSubsets = file.subsets.filter((subset) => subset.subset !== 'all');
  const rows = all.peaks.map((peak) => {
    const entry = entryAt(peak.vectorId, peak.peakLayer);
    const tokenRow = token.get(`${peak.vectorId}@${peak.peakLayer}`);
    return [
      text(peak.vectorId + (peak.isRandomBaseline ? ' (random)' : '')),
      number(peak.peakLayer, 0),
      number(peak.cohensD, 2),
      text(`[${formatNumber(peak.cohensDInterval[0], 2)}, ${formatNumber(peak.cohensDInterval[1], 2)}]`),
      number(peak.pairedD, 2),
      { text: formatP(peak.p), value: peak.p },
      number(entry?.meanDifference, 4),
      number(peak.meanActivationCosine, 3),
      number(chance.get(peak.peakLayer), 2),
      ...otherSubsets.map((subset) =>
        number(
          subset.entries.find((e) => e.vectorId === peak.vectorId && e.layer === peak.peakLayer)?.cohensD,
          2,
        ),
      ),
      number(tokenRow?.tokenPairedD, 2),
      number(tokenRow?.specificity?.specificity, 4),
    ];
  });
  return renderTable(
    [
      'vector',
      'peak layer',
      'd',
      'CI',
      'paired d',
      'Welch p',
      'mean B - A',
      'cos(mean diff, v)',
      'chance |d|',
      ...otherSubsets.map((subset) => `d (${subset.subset}, n=${subset.promptCount})`),
      'per-token d',
      'specificity',
    ],
    rows,
    {
      caption: `Per vector at its peak layer (largest |d|), all ${all.promptCount} prompts (${all.pairedCount} on identical tokens). Specificity = mean token delta on exploit spans minus elsewhere.`,
      id: 'model-diff-table',
    },
  );
}

function detectionTables(inputs: ReportInputs): string {
  const detection = inputs.detection;
  if (!detection) return '';
  const layerRows = detection.perLayer.map((row) => {
    const held = detection.generalization?.perLayer.find((entry) => entry.layer === row.layer);
    return [
      number(row.layer, 0),
      number(row.cvAuroc),
      number(row.cvAccuracy),
      number(row.randomCvAuroc),
      number(row.randomCvAccuracy),
      number(held?.testAuroc),
      number(held?.randomTestAuroc),
    ];
  });
  const univariate = detection.univariate
    .filter((row) => !row.isRandomBaseline)
    .sort((x, y) => Math.abs(y.auroc - 0.5) - Math.abs(x.auroc - 0.5))
    .slice(0, 20)
    .map((row) => [
      text(row.vectorId),
      number(row.layer, 0),
      number(row.auroc),
      number(row.r),
      { text: formatP(row.p), value: row.p },
    ]);
  const coefficients = (detection.best?.coefficients ?? []).map((row) => [
    text(row.vectorId),
    number(row.weight),
  ]);
  return [
    renderTable(
      [
        'layer',
        'CV AUROC',
        'CV accuracy',
        'random AUROC',
        'random accuracy',
        'held-out AUROC',
        'held-out random AUROC',
      ],
      layerRows,
      {
        caption: 'Classifier on all trait projections of a layer vs the same on random vectors.',
        id: 'detection-table',
      },
    ),
    renderTable(['vector', 'layer', 'AUROC', 'point-biserial r', 'p'], univariate, {
      caption:
        'Single projections that separate the labels best (AUROC < 0.5: the label goes with lower projections).',
    }),
    coefficients.length > 0
      ? renderTable(['vector', 'standardised weight'], coefficients, {
          caption: `Classifier weights at layer ${detection.best!.layer}, fitted on all labelled prompts.`,
        })
      : '',
  ].join('\n');
}

function steeringTable(inputs: ReportInputs): string {
  if (inputs.steering.length === 0) return '';
  const rows = inputs.steering.map((sweep) => {
    const coherent = sweep.runs.filter(
      (run) => run.coherenceMean !== null && run.coherenceMean >= 70 && run.traitMean !== null,
    );
    const best = coherent.sort((x, y) => y.traitMean! - x.traitMean!)[0];
    return [
      text(sweep.trait),
      number(sweep.baseline.trait, 1),
      number(sweep.baseline.coherence, 1),
      number(sweep.runs.length, 0),
      best ? text(`layer ${best.layer}, coefficient ${formatNumber(best.coefficient)}`) : text('-'),
      number(best?.traitMean, 1),
      number(best?.coherenceMean, 1),
    ];
  });
  return renderTable(
    ['trait', 'baseline trait', 'baseline coherence', 'runs', 'best coherent run', 'trait', 'coherence'],
    rows,
    { caption: 'Best run with coherence >= 70 (STUDY.md threshold).' },
  );
}

function tokenViewSection(inputs: ReportInputs, charts: readonly ReportChart[]): string {
  if (!inputs.tokenView || inputs.tokenView.prompts.length === 0) return '';
  return `<section id="token-view-section"><h2>Token view</h2>
<p class="note">Each response token coloured by its per-token projection. Choose the prompt, the vector, the layer and what to colour by.</p>
<div id="token-view" class="token-view">
<div class="controls"><label>prompt <select id="tv-prompt"></select></label><label>vector <select id="tv-vector"></select></label><label>layer <select id="tv-layer"></select></label><label>colour <select id="tv-mode"></select></label></div>
<p id="tv-prompt-text" class="prompt-text"></p>
<div id="tv-tokens" class="tokens"></div>
<p id="tv-legend" class="legend"></p>
</div>
${renderCharts(charts, 'token-view')}
</section>`;
}

function section(id: string, title: string, body: string): string {
  return body.trim() === '' ? '' : `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

const styles = `
body { font-family: 'Liberation Sans', 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #1f2d3d; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 6px; font-size: 22px; }
header p { margin: 2px 0; color: #cfd8e3; font-size: 13px; }
nav { background: #fff; border-bottom: 1px solid #ddd; padding: 8px 32px; z-index: 2; font-size: 13px; }
nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; }
main { padding: 8px 32px 48px; max-width: 1280px; }
section { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 12px 20px; margin: 18px 0; }
h2 { font-size: 18px; margin: 6px 0 12px; }
figure { margin: 12px 0 20px; overflow-x: auto; }
figcaption { font-size: 12px; color: #555; max-width: 900px; margin-top: 4px; }
table { border-collapse: collapse; font-size: 12px; margin: 10px 0 18px; }
caption { text-align: left; font-size: 12px; color: #555; padding-bottom: 4px; caption-side: top; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f2f4f7; cursor: pointer; }
th[data-order=ascending]::after { content: ' \\25B2'; } th[data-order=descending]::after { content: ' \\25BC'; }
td:first-child, th:first-child { text-align: left; }
ul.findings li { margin: 4px 0; }
.note, .legend { font-size: 12px; color: #555; }
.controls label { margin-right: 14px; font-size: 13px; }
.controls select { margin-left: 4px; max-width: 340px; }
.prompt-text { font-size: 13px; color: #333; }
.tokens { font-family: 'DejaVu Sans Mono', monospace; font-size: 13px; line-height: 1.9; white-space: pre-wrap; border: 1px solid #ddd; padding: 8px; background: white; max-height: 320px; overflow-y: auto; }
.token { border-radius: 2px; }
.token.exploit { text-decoration: underline; text-decoration-color: #c0392b; text-decoration-thickness: 2px; }
.vega-bind { font-size: 12px; margin: 4px 0; }
.table-scroll { overflow-x: auto; }
`;

/**
 * The whole report as one HTML string: inlined Vega runtime, compiled chart specs and data as JSON, tables
 * rendered here, the hand-written client script. No external resource is referenced.
 */
export function renderReportHtml(
  inputs: ReportInputs,
  charts: readonly ReportChart[],
  compiled: Record<string, vega.Spec>,
  vegaRuntime: string,
  options: { generatedAt?: string; version?: string } = {},
): string {
  const summary = inputs.summary;
  const focus = chooseFocus(inputs);
  const data = {
    charts: compiled,
    tokenView: inputs.tokenView,
    variants: { a: summary?.variants.a ?? 'A', b: summary?.variants.b ?? 'B' },
    focus,
  };
  const meta: string[] = [];
  if (summary) {
    meta.push(
      `variants: ${summary.variants.b ?? '-'} (B) vs ${summary.variants.a} (A); prompt sets: ${summary.promptSets.join(', ')}; ${summary.prompts.analysed} prompts (${summary.prompts.paired} paired, ${summary.prompts.labelled} labelled, ${summary.prompts.positives} positive)`,
    );
    meta.push(
      `projection: ${summary.projection.measure}${summary.projection.centred ? ' (centred)' : ''}, ${summary.projection.aggregation} over ${summary.projection.part} tokens at ${summary.projection.site}, layers ${summary.projection.layers.join(', ')}; ${summary.vectors.filter((v) => !v.isRandomBaseline).length} vectors + ${summary.vectors.filter((v) => v.isRandomBaseline).length} random controls`,
    );
  }
  const findings = findingsList(inputs);
  const body = [
    findings.length > 0
      ? section(
          'findings',
          'Findings',
          `<ul class="findings">${findings.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`,
        )
      : '',
    section('model-diff', 'Model diff', renderCharts(charts, 'model-diff') + modelDiffTable(inputs)),
    tokenViewSection(inputs, charts),
    section('prompts', 'Prompts x traits x layers', renderCharts(charts, 'prompts')),
    section('detection', 'Detection', renderCharts(charts, 'detection') + detectionTables(inputs)),
    section('predictivity', 'Predictivity', renderCharts(charts, 'predictivity')),
    section('consistency', 'Vector consistency', renderCharts(charts, 'consistency')),
    section('steering', 'Steering', renderCharts(charts, 'steering') + steeringTable(inputs)),
    section('extraction', 'Extraction', renderCharts(charts, 'extraction')),
  ].join('\n');
  const navigation = [
    ['findings', 'Findings'],
    ['model-diff', 'Model diff'],
    ['token-view-section', 'Token view'],
    ['prompts', 'Prompts'],
    ['detection', 'Detection'],
    ['predictivity', 'Predictivity'],
    ['consistency', 'Consistency'],
    ['steering', 'Steering'],
    ['extraction', 'Extraction'],
  ]
    .filter(([id]) => body.includes(`<section id="${id}"`))
    .map(([id, title]) => `<a href="#${id}">${title}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>traitlens report: ${escapeHtml(inputs.experimentName)}</title>
<style>${styles}</style>
</head>
<body>
<header><h1>traitlens report: ${escapeHtml(inputs.experimentName)}</h1>
${meta.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}
<p>generated ${escapeHtml(options.generatedAt ?? new Date().toISOString())}${options.version ? ` by @traitlens/analysis ${escapeHtml(options.version)}` : ''}; works offline; data in analysis/*.json</p></header>
<nav>${navigation}</nav>
<main>
${body}
</main>
<script type="application/json" id="traitlens-data">${escapeJsonForScript(JSON.stringify(data))}</script>
<script>${escapeCodeForScript(vegaRuntime)}</script>
<script>${escapeCodeForScript(reportClientScript)}</script>
</body>
</html>
`;
}
