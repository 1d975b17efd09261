import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { experimentLayout, writeJsonAtomic } from '@traitlens/core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticExperiment } from '../../test/synthetic-experiment';
import { analyzeExperiment } from '../experiment/analyze-experiment';
import { parseExtractionEvaluation } from './read-extraction-evaluation';
import { parseSteeringResults } from './read-steering-results';
import { type WrittenReport, writeReport } from './write-report';

const chromiumPath = process.env.TRAITLENS_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);
const artifacts = join(import.meta.dirname, '..', '..', 'test-artifacts', 'report');
let root: string;
let report: WrittenReport;

/** steering/<trait>/results.json in the steering package's schema (runs with one intervention each). */
function steeringResults(trait: string) {
  const runs = [10, 14].flatMap((layer) =>
    [2, 4, 6, 8].map((coefficient, step) => ({
      id: `L${layer}-c${coefficient}`,
      kind: 'layer',
      interventions: [
        {
          layer,
          site: 'resid_post',
          coefficient,
          vector: `layer.${layer}`,
          vectorNorm: 1,
          perturbationRatio: coefficient / 8,
        },
      ],
      mode: 'add',
      traitMean: 20 + step * 15 + (layer === 14 ? 5 : 0),
      coherenceMean: 92 - step * 9 - (layer === 14 ? 6 : 0),
      n: 10,
    })),
  );
  return {
    format: 'traitlens.steering-results',
    formatVersion: 1,
    context: { trait },
    baseline: { runId: 'baseline', traitMean: 14, coherenceMean: 93 },
    runs: [
      {
        id: 'baseline',
        kind: 'baseline',
        interventions: [],
        mode: 'add',
        traitMean: 14,
        coherenceMean: 93,
        n: 10,
      },
      ...runs,
    ],
  };
}

/** extraction/<category>/<trait>/evaluation.json in the extraction package's schema. */
function evaluation(trait: string) {
  const layers: Record<string, unknown> = {};
  for (let layer = 0; layer < 6; layer++) {
    layers[String(layer)] = {
      activationNorm: 5 + layer,
      methods: Object.fromEntries(
        ['mean_diff', 'probe'].map((method, m) => [
          method,
          {
            validation: {
              accuracy: 0.6 + 0.05 * layer - 0.02 * m,
              cohensD: 0.5 + 0.3 * layer,
              auroc: 0.65 + 0.05 * layer,
            },
            trainAccuracy: 0.9,
            accuracyDrop: 0.1,
            combinedScore: 0.5 + 0.05 * layer,
            baseline: 0,
            details: {},
          },
        ]),
      ),
      methodCosines: {},
    };
  }
  return {
    format: 'traitlens.extraction-evaluation',
    formatVersion: '1',
    trait,
    sites: { resid_post: { layers, best: null } },
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'traitlens-report-'));
  await writeSyntheticExperiment({ root, hiddenSize: 64 });
  await analyzeExperiment({
    experiment: root,
    variantA: 'clean',
    variantB: 'lora',
    promptSets: ['synthetic'],
    annotationsFile: join(root, 'annotations.json'),
    promptFiles: [join(root, 'prompt-set.json')],
    randomBaselines: 4,
    bootstrapResamples: 100,
    permutations: 10,
  });
  const layout = experimentLayout(root);
  await writeJsonAtomic(layout.steering('planted').results, steeringResults('planted'));
  await writeJsonAtomic(
    layout.extraction('alignment', 'planted').evaluation,
    evaluation('alignment/planted'),
  );
  report = await writeReport({ experiment: root });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeReport', () => {
  it('writes one self-contained HTML file and every chart as SVG and PNG', async () => {
    expect(report.charts).toEqual([
      'effect-size-heatmap',
      'effect-size-by-layer',
      'trajectory',
      'prompt-heatmap',
      'detection-by-layer',
      'roc',
      'predictivity',
      'vector-consistency',
      'steering-0',
      'extraction-0',
    ]);
    expect(report.images).toHaveLength(report.charts.length * 2);
    const html = await readFile(report.htmlPath, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/<img[^>]+src="?https?:/i);
    expect(html).toContain('id="traitlens-data"');
    expect(report.bytes).toBeLessThan(2_000_000);
    const png = await readFile(join(root, 'report', 'plots', 'effect-size-heatmap.png'));
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
  });

  it("reads steering results and extraction evaluations in their packages' schemas and in the simple forms", () => {
    const sweep = parseSteeringResults(steeringResults('planted'), 'results.json', 'planted');
    expect(sweep.runs).toHaveLength(8);
    expect(sweep.baseline).toEqual({ trait: 14, coherence: 93 });
    expect(sweep.runs[0]).toMatchObject({
      layer: 10,
      coefficient: 2,
      traitMean: 20,
      coherenceMean: 92,
      n: 10,
      perturbationRatio: 0.25,
    });
    const simple = parseSteeringResults(
      {
        runs: [
          { layer: 3, coefficient: 1.5, traitMean: 40, coherenceMean: 80, n: 5 },
          { layers: [1, 2], coefficient: 1 },
        ],
        baseline: { traitMean: 10, coherenceMean: 90 },
      },
      'x',
      'trait',
    );
    expect(simple.runs).toEqual([
      {
        layer: 3,
        coefficient: 1.5,
        traitMean: 40,
        coherenceMean: 80,
        n: 5,
        perturbationRatio: null,
        traitInterval: null,
        coherenceInterval: null,
        responses: null,
      },
    ]);
    expect(simple.coherenceThreshold).toBeNull();
    expect(simple.skippedRuns).toBe(1);
    const rows = parseExtractionEvaluation(evaluation('alignment/planted'), 'fallback');
    expect(rows.filter((row) => row.method === 'probe' && row.layer === 2).map((row) => row.metric)).toEqual([
      'accuracy',
      "Cohen's d",
      'AUROC',
      'train accuracy',
      'combined score',
    ]);
    expect(parseExtractionEvaluation([{ layer: 1, method: 'probe', accuracy: 0.7 }], 't')).toEqual([
      { trait: 't', site: 'resid_post', method: 'probe', layer: 1, metric: 'accuracy', value: 0.7 },
    ]);
    expect(
      parseExtractionEvaluation({ methods: { mean_diff: { 4: { accuracy: 0.8, auroc: 0.9 } } } }, 't').map(
        (row) => row.metric,
      ),
    ).toEqual(['accuracy', 'AUROC']);
  });
});

describe.skipIf(!hasChromium)(
  `the report in headless Chromium (${hasChromium ? chromiumPath : `skipped: no browser at ${chromiumPath}; apt-get install chromium or set TRAITLENS_CHROMIUM`})`,
  () => {
    it('loads offline without console errors, renders every chart, and the token view follows its selectors', async () => {
      await mkdir(artifacts, { recursive: true });
      const browser = await chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
        const errors: string[] = [];
        const requests: string[] = [];
        page.on('console', (message) => {
          if (message.type() === 'error' || message.type() === 'warning')
            errors.push(`${message.type()}: ${message.text()}`);
        });
        page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
        await page.route('**/*', (route) => {
          const url = route.request().url();
          if (!url.startsWith('file:')) {
            requests.push(url);
            return route.abort();
          }
          return route.continue();
        });
        await page.goto(pathToFileURL(report.htmlPath).href);
        await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
        const charts = await page.$$eval('[data-chart]', (nodes) =>
          nodes.map((node) => ({
            id: node.getAttribute('data-chart'),
            rendered: node.getAttribute('data-rendered'),
            marks: node.querySelectorAll('svg path, svg rect, svg line, svg text').length,
          })),
        );
        expect(charts.map((chart) => chart.id)).toEqual(report.charts);
        for (const chart of charts) {
          expect(chart.rendered, chart.id ?? '').toBe('true');
          expect(chart.marks, chart.id ?? '').toBeGreaterThan(10);
        }
        await page.screenshot({ path: join(artifacts, 'report-full.png'), fullPage: true });
        const tokenView = page.locator('#token-view-section');
        await tokenView.scrollIntoViewIfNeeded();
        const before = await page.getAttribute('#token-view', 'data-state');
        expect(before).toBe('p000|planted/mean_diff|3|delta');
        const coloursBefore = await page.$$eval('#tv-tokens .token', (nodes) =>
          nodes.map((node) => node.getAttribute('style')),
        );
        expect(coloursBefore).toHaveLength(16);
        expect(new Set(coloursBefore).size).toBeGreaterThan(4);
        expect(await page.$$eval('#tv-tokens .token.exploit', (nodes) => nodes.length)).toBe(8);
        await tokenView.screenshot({ path: join(artifacts, 'token-view-planted-layer3.png') });
        await page.selectOption('#tv-vector', { label: 'control/mean_diff' });
        await page.selectOption('#tv-layer', { label: 'layer 1' });
        await page.waitForSelector('#token-view[data-trajectory="p000|control/mean_diff|1"]');
        expect(await page.getAttribute('#token-view', 'data-state')).toBe('p000|control/mean_diff|1|delta');
        const coloursAfter = await page.$$eval('#tv-tokens .token', (nodes) =>
          nodes.map((node) => node.getAttribute('style')),
        );
        expect(coloursAfter).not.toEqual(coloursBefore);
        await tokenView.screenshot({ path: join(artifacts, 'token-view-control-layer1.png') });
        await page.selectOption('#tv-mode', 'b');
        expect(await page.getAttribute('#token-view', 'data-state')).toBe('p000|control/mean_diff|1|b');
        expect(await page.textContent('#chart-trajectory')).toContain('p000: control/mean_diff at layer 1');
        for (const id of [
          'model-diff',
          'prompts',
          'detection',
          'predictivity',
          'consistency',
          'steering',
          'extraction',
        ]) {
          await page.locator(`#${id}`).screenshot({ path: join(artifacts, `${id}.png`) });
        }
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  },
);
