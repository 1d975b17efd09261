import { describe, expect, it } from 'vitest';
import type { ProjectionMetrics } from './projection-metrics';
import { scoreSiteEvaluation } from './score-site-evaluation';
import type { LayerEvaluation, MethodEvaluation } from './trait-evaluation';

function method(accuracy: number, cohensD: number): MethodEvaluation {
  const validation = {
    accuracy,
    cohensD,
    polarityCorrect: cohensD > 0,
    auroc: accuracy,
  } as ProjectionMetrics;
  return { validation, trainAccuracy: accuracy, accuracyDrop: 0, combinedScore: 0, baseline: 0, details: {} };
}

function layer(methods: Record<string, MethodEvaluation>): LayerEvaluation {
  return { activationNorm: 1, methods, methodCosines: {} };
}

// `best` is what `methods: best` (analysis, steering, intervention) uses: its rule is pinned here.
describe('scoreSiteEvaluation: the best vector of a site', () => {
  it('is the highest combined score, (accuracy + |d| / max |d|) / 2, zero with the wrong polarity; random_baseline never', () => {
    const site = scoreSiteEvaluation({
      '0': layer({ mean_diff: method(0.7, 1), random_baseline: method(1, 2) }),
      '1': layer({ mean_diff: method(0.8, 1), probe: method(0.9, -2) }),
    });
    expect(site.layers['1']!.methods.mean_diff!.combinedScore).toBeCloseTo((0.8 + 0.5) / 2, 12);
    expect(site.layers['1']!.methods.probe!.combinedScore).toBe(0);
    expect(site.layers['0']!.methods.random_baseline!.combinedScore).toBe(1);
    expect(site.best).toMatchObject({ method: 'mean_diff', layer: 1 });
  });

  it('breaks ties by the lower layer, then by the method evaluated first', () => {
    const tied = scoreSiteEvaluation({
      '2': layer({ pca_diff: method(0.8, 1), mean_diff: method(0.8, 1) }),
      '5': layer({ probe: method(0.8, 1) }),
    });
    expect(tied.best).toMatchObject({ method: 'pca_diff', layer: 2 });
  });
});
