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

interface FindingsLists {
  findings: string[];
  chance: string[];
}

/**
 * The report's findings: only effects that survive the multiple-comparison correction AND beat the random
 * null (model diff), or whose detection beats its permutation null with an AUROC interval above 0.5;
 * everything else goes to "not distinguishable from chance" with its reason.
 */
function findingsLists(inputs: ReportInputs): FindingsLists {
  const findings: string[] = [];
  const chance: string[] = [];
  const diff = inputs.modelDiff?.subsets.find((subset) => subset.subset === 'all');
  if (diff) {
    const band = new Map((diff.randomNull?.perLayer ?? []).map((row) => [row.layer, row.q95]));
    const peaks = diff.peaks
      .filter((p) => !p.isRandomBaseline)
      .sort((x, y) => Math.abs(y.cohensD) - Math.abs(x.cohensD));
    for (const peak of peaks) {
      if (peak.finding) {
        findings.push(
          `${peak.vectorId}: d = ${formatNumber(peak.cohensD, 2)} [${formatNumber(peak.cohensDInterval[0], 2)}, ${formatNumber(peak.cohensDInterval[1], 2)}] at layer ${peak.peakLayer} (paired d ${formatNumber(peak.pairedD, 2)}; ${peak.primaryTest} p ${formatP(peak.p)}, Holm ${formatP(peak.pHolm)}, BH ${formatP(peak.pBenjaminiHochberg)}; random-direction null p ${formatP(peak.traitRandomNullPHolm)} with layer, method and trait choice paid for${band.has(peak.peakLayer) ? `; 95% of random directions stay within |d| ${formatNumber(band.get(peak.peakLayer), 2)} at this layer` : ''}).`,
        );
      } else {
        chance.push(
          `${peak.vectorId} (d ${formatNumber(peak.cohensD, 2)} at layer ${peak.peakLayer}): ${(peak.reason ?? 'not distinguishable from chance').replace(/^not distinguishable from chance: /, '')}.`,
        );
      }
    }
  }
  const detection = inputs.detection;
  if (detection?.best) {
    const alpha = inputs.summary?.statistics?.alpha ?? 0.05;
    const [low, high] = detection.best.cvAurocInterval ?? [Number.NaN, Number.NaN];
    const permutationP = detection.permutation?.pValue;
    const line =
      `Detection (nested ${detection.validation?.scheme ?? 'cross-validation'}, layer chosen inside the training folds; most often layer ${detection.best.layer}): AUROC ${formatNumber(detection.best.cvAuroc)} [${formatNumber(low)}, ${formatNumber(high)}], accuracy ${formatNumber(detection.best.cvAccuracy)} (majority class ${formatNumber(detection.majorityRate)}); random vectors through the same procedure ${formatNumber(detection.best.randomCvAuroc)}` +
      (detection.permutation
        ? `; ${detection.permutation.scheme ?? ''} permutation p = ${formatP(detection.permutation.pValue)} (${detection.permutation.permutations} permutations, chance 95th percentile ${formatNumber(detection.permutation.null95)})`
        : '') +
      (detection.generalization
        ? `; trained on groups ${detection.generalization.trainGroups.join(', ')}, AUROC ${formatNumber(detection.generalization.testAuroc)} [${formatNumber(detection.generalization.testAurocInterval?.[0])}, ${formatNumber(detection.generalization.testAurocInterval?.[1])}] on held-out groups ${detection.generalization.testGroups.join(', ')}`
        : '');
    const beats = low > 0.5 && (permutationP === undefined || permutationP < alpha);
    if (beats) findings.push(`${line}.`);
    else
      chance.push(
        `${line}: ${!(low > 0.5) ? 'the AUROC interval reaches 0.5' : `permutation p ${formatP(permutationP)} >= ${alpha}`}.`,
      );
  }
  return { findings, chance };
}

function verdictTable(inputs: ReportInputs): string {
  const verdict = inputs.summary?.verdict ?? [];
  if (verdict.length === 0) return '';
  return renderTable(
    ['criterion', 'verdict', 'the numbers'],
    verdict.map((row) => [text(row.criterion), text(row.status.toUpperCase()), text(row.evidence)]),
    {
      caption:
        "The study's success criteria, judged on the corrected statistics (see Definitions). NOT-RUN: the data for it was not given.",
      id: 'verdict-table',
    },
  );
}

function predictivityList(inputs: ReportInputs): string {
  const lines: string[] = [];
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
    lines.push(`${row.vectorId}: ${best}${flips}.`);
  }
  return lines.length === 0
    ? ''
    : `<p class="note">Best layer per vector (chosen on these data, uncorrected: descriptive, not findings).</p><ul class="findings">${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`;
}

const definitions: [string, string][] = [
  [
    'd',
    "Cohen's d of per-response projections, B vs A: (mean B - mean A) / sqrt((sd_A^2 + sd_B^2) / 2). For paired prompts this is d_av; it ranks effects and is the statistic of the random-direction null.",
  ],
  [
    'paired d',
    'mean(B - A) / sd(B - A) over prompts with identical tokens in both variants (d_z); null (-) when every difference is 0.',
  ],
  [
    'p (paired t)',
    'The primary test: paired t-test of B - A on identical tokens (Welch when prompts are not paired); Wilcoxon signed-rank p is its rank-based check, Welch p the unpaired secondary.',
  ],
  [
    'Holm p / BH p',
    'The primary p adjusted over every trait x method x layer tested: Holm controls the chance of any false positive (family-wise), Benjamini-Hochberg the expected share of false positives (false-discovery rate).',
  ],
  [
    'null p',
    "Share of 1,000 random directions (independent at each layer) whose best |d| over the searched layers reaches the trait's, raised for the best of the trait's methods (1 - (1 - p)^M) and Holm-adjusted over traits.",
  ],
  [
    'finding',
    'An effect whose Holm p < alpha (0.05) AND whose null p < alpha: it survives the correction and random directions do not explain it. Everything else is "not distinguishable from chance".',
  ],
  [
    'chance',
    'What random directions, random vectors or shuffled labels reach on the same data: grey bands and dashed lines on the charts (0.5 for AUROC and accuracy, the majority-class rate where classes are unbalanced).',
  ],
  [
    'detection AUROC',
    'Nested cross-validation: folds never split a group (bias), the layer is chosen inside each training fold, and with groups the AUROC counts (positive, negative) pairs within a group only, so telling groups apart earns nothing. Its interval is a two-stage bootstrap (groups, then prompts).',
  ],
  [
    'combined score',
    'Extraction: (validation accuracy + |d| / the largest |d| of any method and layer of the trait) / 2 when the polarity is correct, else 0; it picks the default vector.',
  ],
  [
    'coherence threshold',
    'Steering: runs whose mean coherence falls below it (70 unless the search set another) are not counted as successful steering; the dotted line on the sweep.',
  ],
];

function definitionsList(): string {
  return `<dl class="definitions">${definitions.map(([term, meaning]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(meaning)}</dd>`).join('')}</dl>`;
}

function modelDiffTable(inputs: ReportInputs): string {
  const file = inputs.modelDiff;
  const all = file?.subsets.find((subset) => subset.subset === 'all');
  if (!file || !all) return '';
  const chance = new Map(all.randomBaselineMaxAbsD.map((row) => [row.layer, row.maxAbsD]));
  const token = new Map(file.tokenLevel.map((row) => [`${row.vectorId}@${row.layer}`, row]));
  const band = new Map((all.randomNull?.perLayer ?? []).map((row) => [row.layer, row.q95]));
  type Peak = (typeof all.peaks)[number];
  const entryAt = (subset: { entries: ModelDiffEntry[] }, peak: Peak): ModelDiffEntry | undefined =>
    subset.entries.find((entry) => entry.vectorId === peak.vectorId && entry.layer === peak.peakLayer);
  const tokenAt = (peak: Peak) => token.get(`${peak.vectorId}@${peak.peakLayer}`);
  const p = (value: number | null) => ({ text: formatP(value), value });
  // One column per entry: its header and its cell for a vector's peak.
  const columns: [string, (peak: Peak) => Cell][] = [
    ['vector', (peak) => text(peak.vectorId + (peak.isRandomBaseline ? ' (random)' : ''))],
    ['verdict', (peak) => text(peak.isRandomBaseline ? '-' : peak.finding ? 'finding' : 'chance')],
    ['peak layer', (peak) => number(peak.peakLayer, 0)],
    ['d', (peak) => number(peak.cohensD, 2)],
    [
      'CI',
      (peak) =>
        text(`[${formatNumber(peak.cohensDInterval[0], 2)}, ${formatNumber(peak.cohensDInterval[1], 2)}]`),
    ],
    ['paired d', (peak) => number(peak.pairedD, 2)],
    [`p (${all.peaks[0]?.primaryTest ?? 'paired-t'})`, (peak) => p(peak.p)],
    ['Holm p', (peak) => p(peak.pHolm)],
    ['BH p', (peak) => p(peak.pBenjaminiHochberg)],
    ['Wilcoxon p', (peak) => p(peak.wilcoxonP)],
    ['Welch p', (peak) => p(peak.welchP)],
    ['null p', (peak) => p(peak.traitRandomNullPHolm)],
    ['random 95% |d|', (peak) => number(band.get(peak.peakLayer) ?? chance.get(peak.peakLayer), 2)],
    ['mean B - A', (peak) => number(entryAt(all, peak)?.meanDifference, 4)],
    ['cos(mean diff, v)', (peak) => number(peak.meanActivationCosine, 3)],
    ...file.subsets
      .filter((subset) => subset.subset !== 'all')
      .map((subset): [string, (peak: Peak) => Cell] => [
        `d (${subset.subset}, n=${subset.promptCount})`,
        (peak) => number(entryAt(subset, peak)?.cohensD, 2),
      ]),
    ['per-token d', (peak) => number(tokenAt(peak)?.tokenPairedD, 2)],
    ['specificity', (peak) => number(tokenAt(peak)?.specificity?.specificity, 4)],
  ];
  return renderTable(
    columns.map(([header]) => header),
    all.peaks.map((peak) => columns.map(([, cell]) => cell(peak))),
    {
      caption: `Per vector at its peak layer (largest |d|), all ${all.promptCount} prompts (${all.pairedCount} on identical tokens). Holm and BH adjust over the ${all.familySize ?? '-'} trait x method x layer tests; null p: against ${all.randomNull ? `${all.randomNull.directions} ${all.randomNull.source === 'random-directions' ? 'random directions' : 'random baseline vectors'}` : 'no random null'}, best layer and method inside the null, Holm over traits; random 95% |d|: what 95% of random directions stay within at that layer. Specificity = mean token delta on exploit spans minus elsewhere.`,
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
      (run) =>
        run.coherenceMean !== null &&
        run.coherenceMean >= (sweep.coherenceThreshold ?? 70) &&
        run.traitMean !== null,
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
    {
      caption:
        'Best run whose mean coherence reaches the coefficient search threshold (70 unless the search set another).',
    },
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
ul.findings li, ul.chance li { margin: 4px 0; }
ul.chance { color: #555; }
h3 { font-size: 14px; margin: 12px 0 4px; }
dl.definitions dt { font-weight: bold; font-size: 13px; margin-top: 6px; }
dl.definitions dd { font-size: 12px; color: #444; margin: 2px 0 4px 16px; max-width: 900px; }
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

export interface RenderReportHtmlOptions {
  inputs: ReportInputs;
  charts: readonly ReportChart[];
  /** Each chart's Vega spec compiled from its Vega-Lite spec, by chart id. */
  compiled: Record<string, vega.Spec>;
  /** The Vega runtime's source, inlined so the report works offline. */
  vegaRuntime: string;
  /** Shown as "generated <time>"; by default the report carries no clock time of its own. */
  generatedAt?: string | undefined;
  version?: string | undefined;
}

/**
 * The whole report as one HTML string: inlined Vega runtime, compiled chart specs and data as JSON, tables
 * rendered here, the hand-written client script. No external resource is referenced.
 */
export function renderReportHtml(options: RenderReportHtmlOptions): string {
  const { inputs, charts, version } = options;
  const summary = inputs.summary;
  const data = {
    charts: options.compiled,
    tokenView: inputs.tokenView,
    variants: { a: summary?.variants.a ?? 'A', b: summary?.variants.b ?? 'B' },
    focus: chooseFocus(inputs),
  };
  const body = [
    section('findings', 'Findings', findingsBody(inputs)),
    section('model-diff', 'Model diff', renderCharts(charts, 'model-diff') + modelDiffTable(inputs)),
    tokenViewSection(inputs, charts),
    section('prompts', 'Prompts x traits x layers', renderCharts(charts, 'prompts')),
    section('detection', 'Detection', renderCharts(charts, 'detection') + detectionTables(inputs)),
    section('predictivity', 'Predictivity', renderCharts(charts, 'predictivity') + predictivityList(inputs)),
    section('consistency', 'Vector consistency', renderCharts(charts, 'consistency')),
    section('steering', 'Steering', renderCharts(charts, 'steering') + steeringTable(inputs)),
    section('extraction', 'Extraction', renderCharts(charts, 'extraction')),
    section('definitions', 'Definitions', definitionsList()),
  ].join('\n');
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
${headerLines(inputs)
  .map((line) => `<p>${escapeHtml(line)}</p>`)
  .join('\n')}
<p>${escapeHtml(describeWhen(options.generatedAt))}${version ? ` by @traitlens/analysis ${escapeHtml(version)}` : ''}; works offline; data in analysis/*.json</p></header>
<nav>${navigationLinks(body)}</nav>
<main>
${body}
</main>
<script type="application/json" id="traitlens-data">${escapeJsonForScript(JSON.stringify(data))}</script>
<script>${escapeCodeForScript(options.vegaRuntime)}</script>
<script>${escapeCodeForScript(reportClientScript)}</script>
</body>
</html>
`;
}

/** What was analysed and how, for the header. */
function headerLines(inputs: ReportInputs): string[] {
  const summary = inputs.summary;
  if (!summary) return [];
  return [
    `variants: ${summary.variants.b ?? '-'} (B) vs ${summary.variants.a} (A); prompt sets: ${summary.promptSets.join(', ')}; ${summary.prompts.analysed} prompts (${summary.prompts.paired} paired, ${summary.prompts.labelled} labelled, ${summary.prompts.positives} positive)`,
    `projection: ${summary.projection.measure}${summary.projection.centred ? ' (centred)' : ''}, ${summary.projection.aggregation} over ${summary.projection.part} tokens at ${summary.projection.site}, layers ${summary.projection.layers.join(', ')}; ${summary.vectors.filter((v) => !v.isRandomBaseline).length} vectors + ${summary.vectors.filter((v) => v.isRandomBaseline).length} random controls`,
  ];
}

/** The findings, the vectors not distinguishable from chance, and the verdict table. */
function findingsBody(inputs: ReportInputs): string {
  const { findings, chance } = findingsLists(inputs);
  if (findings.length === 0 && chance.length === 0) return verdictTable(inputs);
  const alpha = inputs.summary?.statistics?.alpha ?? 0.05;
  return (
    `<p class="note">A finding survives the multiple-comparison correction (Holm, alpha ${alpha}) AND beats the random-direction null; see Definitions.</p>` +
    (findings.length > 0
      ? `<ul class="findings" id="findings-list">${findings.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`
      : '<p id="findings-list">No finding: nothing here is distinguishable from chance.</p>') +
    (chance.length > 0
      ? `<h3>Not distinguishable from chance</h3><ul class="chance" id="chance-list">${chance.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`
      : '') +
    verdictTable(inputs)
  );
}

/** Links to the sections the body has. */
function navigationLinks(body: string): string {
  return [
    ['findings', 'Findings'],
    ['model-diff', 'Model diff'],
    ['token-view-section', 'Token view'],
    ['prompts', 'Prompts'],
    ['detection', 'Detection'],
    ['predictivity', 'Predictivity'],
    ['consistency', 'Consistency'],
    ['steering', 'Steering'],
    ['extraction', 'Extraction'],
    ['definitions', 'Definitions'],
  ]
    .filter(([id]) => body.includes(`<section id="${id}"`))
    .map(([id, title]) => `<a href="#${id}">${title}</a>`)
    .join('');
}

/**
 * The header's time: only an explicit `generatedAt`. Never the current time nor the analysis' time, so
 * the same inputs give a byte-identical report (docs/reliability.md, section 4).
 */
function describeWhen(generatedAt: string | undefined): string {
  return generatedAt === undefined ? 'generated' : `generated ${generatedAt}`;
}
