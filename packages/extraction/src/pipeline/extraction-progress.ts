/** The pipeline's stages, in order. */
export const extractionStages = [
  'scenario-vetting',
  'generate',
  'response-vetting',
  'activations',
  'vectors',
  'evaluate',
] as const;
export type ExtractionStage = (typeof extractionStages)[number];

/** Reported as work advances, for progress bars. */
export interface ExtractionProgressEvent {
  /** `category/trait`. */
  trait: string;
  stage: ExtractionStage;
  completed: number;
  total: number;
  /** True when the stage's outputs were already there and it was skipped. */
  skipped?: boolean;
}

/** The two classes of a trait data set. */
export type TraitPolarity = 'positive' | 'negative';
export const traitPolarities: readonly TraitPolarity[] = ['positive', 'negative'];
