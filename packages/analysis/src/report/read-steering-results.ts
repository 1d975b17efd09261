import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { experimentLayout } from '@traitlens/core';
import { readJsonFile } from '../experiment/read-prompt-labels';
import { computeMeanConfidenceInterval } from '../stats/mean-confidence-interval';

export interface SteeringSweepRun {
  layer: number;
  coefficient: number;
  traitMean: number | null;
  coherenceMean: number | null;
  n: number | null;
  perturbationRatio: number | null;
  /** 95% t-intervals of the means over questions, from the run's scored responses (null where unreadable). */
  traitInterval: [number, number] | null;
  coherenceInterval: [number, number] | null;
  /** The run's scored-responses file, relative to the trait's steering folder. */
  responses: string | null;
}

/** What the report reads from one `steering/<trait>/results.json` (see docs/report.md). */
export interface SteeringSweep {
  trait: string;
  source: string;
  baseline: { trait: number | null; coherence: number | null };
  runs: SteeringSweepRun[];
  /** Runs left out of the sweep plot: multi-layer, ablation, or without a single layer and coefficient. */
  skippedRuns: number;
  /** The coherence threshold the coefficient search used (its first search's setting), else null. */
  coherenceThreshold: number | null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * Reads a steering results file tolerantly: runs as `{layer, coefficient, traitMean, coherenceMean, n}`
 * (snake_case accepted), or as steering's own records with one `interventions[]` entry holding layer and
 * coefficient; the baseline as `{traitMean, coherenceMean}` or a number (trait only).
 */
export function parseSteeringResults(value: unknown, source: string, traitFallback: string): SteeringSweep {
  const record = (value ?? {}) as Record<string, unknown>;
  const context = (record.context ?? {}) as Record<string, unknown>;
  const trait =
    typeof record.trait === 'string'
      ? record.trait
      : typeof context.trait === 'string'
        ? context.trait
        : traitFallback;
  const rawBaseline = record.baseline;
  const baseline =
    typeof rawBaseline === 'number'
      ? { trait: rawBaseline, coherence: null }
      : {
          trait: numberOrNull(
            (rawBaseline as Record<string, unknown> | null)?.traitMean ??
              (rawBaseline as Record<string, unknown> | null)?.trait_mean,
          ),
          coherence: numberOrNull(
            (rawBaseline as Record<string, unknown> | null)?.coherenceMean ??
              (rawBaseline as Record<string, unknown> | null)?.coherence_mean,
          ),
        };
  const runs: SteeringSweepRun[] = [];
  let skippedRuns = 0;
  for (const raw of Array.isArray(record.runs) ? record.runs : []) {
    const run = (raw ?? {}) as Record<string, unknown>;
    if (run.kind === 'baseline') continue;
    const interventions = Array.isArray(run.interventions)
      ? (run.interventions as Record<string, unknown>[])
      : undefined;
    const single = interventions?.length === 1 ? interventions[0] : undefined;
    const layer = numberOrNull(run.layer) ?? numberOrNull(single?.layer);
    const coefficient =
      numberOrNull(run.coefficient) ?? numberOrNull(run.coef) ?? numberOrNull(single?.coefficient);
    if (
      layer === null ||
      coefficient === null ||
      (run.mode !== undefined && run.mode !== 'add') ||
      (interventions && interventions.length > 1)
    ) {
      skippedRuns++;
      continue;
    }
    runs.push({
      layer,
      coefficient,
      traitMean: numberOrNull(run.traitMean ?? run.trait_mean),
      coherenceMean: numberOrNull(run.coherenceMean ?? run.coherence_mean),
      n: numberOrNull(run.n),
      perturbationRatio: numberOrNull(run.perturbationRatio ?? single?.perturbationRatio),
      traitInterval: null,
      coherenceInterval: null,
      responses: typeof run.responses === 'string' ? run.responses : null,
    });
  }
  const searches = Array.isArray(record.searches) ? (record.searches as Record<string, unknown>[]) : [];
  const coherenceThreshold =
    searches
      .map((search) =>
        numberOrNull((search?.settings as Record<string, unknown> | undefined)?.coherenceThreshold),
      )
      .find((value) => value !== null) ?? null;
  return { trait, source, baseline, runs, skippedRuns, coherenceThreshold };
}

/** Every `steering/<trait>/results.json` of an experiment, in trait order. */
export async function readSteeringSweeps(experimentRoot: string): Promise<SteeringSweep[]> {
  const layout = experimentLayout(experimentRoot);
  let traits: string[];
  try {
    traits = (await readdir(join(experimentRoot, 'steering'), { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
  const sweeps: SteeringSweep[] = [];
  for (const trait of traits) {
    const path = layout.steering(trait).results;
    let value: unknown;
    try {
      value = await readJsonFile(path, 'Steering results');
    } catch {
      continue;
    }
    const sweep = parseSteeringResults(value, `steering/${trait}/results.json`, trait);
    for (const run of sweep.runs) {
      if (!run.responses) continue;
      try {
        const file = (await readJsonFile(
          join(experimentRoot, 'steering', trait, run.responses),
          'Steering responses',
        )) as {
          responses?: { trait?: unknown; coherence?: unknown }[];
        };
        const scores = (key: 'trait' | 'coherence') =>
          (file.responses ?? []).map((response) => numberOrNull(response[key]) ?? Number.NaN);
        const traitInterval = computeMeanConfidenceInterval(scores('trait'));
        const coherenceInterval = computeMeanConfidenceInterval(scores('coherence'));
        if (Number.isFinite(traitInterval.low)) run.traitInterval = [traitInterval.low, traitInterval.high];
        if (Number.isFinite(coherenceInterval.low))
          run.coherenceInterval = [coherenceInterval.low, coherenceInterval.high];
      } catch {
        // Responses not kept (or unreadable): the sweep shows means without intervals.
      }
    }
    sweeps.push(sweep);
  }
  return sweeps;
}
