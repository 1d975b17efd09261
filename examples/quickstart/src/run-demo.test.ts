import { existsSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const stories = resolve(import.meta.dirname, '../../../../shared/models/stories260k/hf/model.safetensors');

describe.skipIf(!existsSync(stories))('the quick-start demo (README: pnpm demo)', () => {
  it('runs every stage on stories260k and the model diff finds the planted trait at its layer', async () => {
    process.env.TRAITLENS_DEMO_EXPERIMENT = mkdtempSync(join(tmpdir(), 'traitlens-demo-'));
    process.env.TRAITLENS_CACHE ??= mkdtempSync(join(tmpdir(), 'traitlens-demo-cache-'));
    const { runDemo } = await import('./run-demo');
    const { experiment, report } = await runDemo();
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
    expect(existsSync(report)).toBe(true);
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
  });
});
