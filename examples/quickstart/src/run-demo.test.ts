import { existsSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '@traitlens/cli';
import { describe, expect, it } from 'vitest';

const stories = resolve(import.meta.dirname, '../../../../shared/models/stories260k/hf/model.safetensors');
const config = resolve(import.meta.dirname, '../experiments/quickstart.yaml');

describe.skipIf(!existsSync(stories))('the quick-start demo (README: pnpm demo)', () => {
  it('runs every stage of experiments/quickstart.yaml on stories260k and the model diff finds the planted trait at its layer', async () => {
    const experiment = mkdtempSync(join(tmpdir(), 'traitlens-demo-'));
    process.env.TRAITLENS_CACHE ??= mkdtempSync(join(tmpdir(), 'traitlens-demo-cache-'));
    // The same command `pnpm demo` runs, into a temporary folder.
    expect(await runCli(['run', config, '--output', experiment])).toBe(0);
    expect(existsSync(join(experiment, 'extraction/tinystories/happiness/evaluation.json'))).toBe(true);
    expect(existsSync(join(experiment, 'extraction/tinystories/happiness/vectors/probe.safetensors'))).toBe(
      true,
    );
    expect(existsSync(join(experiment, 'steering/happiness/results.json'))).toBe(true);
    expect(existsSync(join(experiment, 'inference/lora/tinystories-demo/activations/1.safetensors'))).toBe(
      true,
    );
    expect(existsSync(join(experiment, 'inference/clean/tinystories-demo/activations/1.safetensors'))).toBe(
      true,
    );
    expect(existsSync(join(experiment, 'report/index.html'))).toBe(true);
    const summary = JSON.parse(await readFile(join(experiment, 'analysis/summary.json'), 'utf8')) as {
      highlights: {
        modelDiff: Array<{
          vectorId: string;
          peakLayer: number;
          cohensD: number;
          randomNull95: number;
          pHolm: number;
          traitRandomNullPHolm: number;
        }>;
        notDistinguishable: Array<{ vectorId: string; reason: string }>;
      };
    };
    const top = summary.highlights.modelDiff[0]!;
    // The toy LoRA pushes layer 2 along the happiness direction: the strongest shift must be happiness,
    // at layer 2, a finding (Holm and beyond 1,000 random directions' best layer).
    expect(top.vectorId.startsWith('happiness/')).toBe(true);
    expect(top.peakLayer).toBe(2);
    expect(Math.abs(top.cohensD)).toBeGreaterThan(top.randomNull95);
    expect(top.pHolm).toBeLessThan(0.05);
    expect(top.traitRandomNullPHolm).toBeLessThan(0.05);
    // Kindness moves no more than random directions do: listed as chance, never as a finding.
    expect(summary.highlights.modelDiff.every((peak) => peak.vectorId.startsWith('happiness/'))).toBe(true);
    expect(summary.highlights.notDistinguishable.some((peak) => peak.vectorId.startsWith('kindness/'))).toBe(
      true,
    );
    // A second run finds every stage done and loads no model.
    expect(await runCli(['run', config, '--output', experiment])).toBe(0);
    const pipeline = JSON.parse(await readFile(join(experiment, 'pipeline.json'), 'utf8')) as {
      stages: Record<string, { key: string }>;
    };
    expect(Object.keys(pipeline.stages)).toEqual(
      expect.arrayContaining(['extract', 'steer', 'capture', 'replay', 'analyze', 'report']),
    );
  });
});
