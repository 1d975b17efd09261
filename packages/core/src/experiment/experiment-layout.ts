import { join } from 'node:path';

/**
 * The experiment directory layout (DESIGN.md, "Experiment directory"). Every stage writes under one of
 * these paths, so a later stage, a resumed run or the report finds its inputs without configuration.
 */
export interface ExperimentLayout {
  root: string;
  config: string;
  extraction(
    category: string,
    trait: string,
  ): {
    root: string;
    responses: string;
    vetting: string;
    activations: string;
    vectors: string;
    evaluation: string;
  };
  steering(trait: string): { root: string; results: string; responses: string };
  inference(
    variant: string,
    promptSet: string,
  ): { root: string; responses: string; activations: string; projections: string };
  analysis: string;
  report: string;
}

export function experimentLayout(root: string): ExperimentLayout {
  return {
    root,
    config: join(root, 'config.yaml'),
    extraction(category, trait) {
      const base = join(root, 'extraction', category, trait);
      return {
        root: base,
        responses: join(base, 'responses'),
        vetting: join(base, 'vetting'),
        activations: join(base, 'activations'),
        vectors: join(base, 'vectors'),
        evaluation: join(base, 'evaluation.json'),
      };
    },
    steering(trait) {
      const base = join(root, 'steering', trait);
      return { root: base, results: join(base, 'results.json'), responses: join(base, 'responses') };
    },
    inference(variant, promptSet) {
      const base = join(root, 'inference', variant, promptSet);
      return {
        root: base,
        responses: join(base, 'responses'),
        activations: join(base, 'activations'),
        projections: join(base, 'projections'),
      };
    },
    analysis: join(root, 'analysis'),
    report: join(root, 'report'),
  };
}
