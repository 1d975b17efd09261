/**
 * The logistic regression of `@traitlens/core` (one implementation, shared with extraction's probe);
 * analysis documents it as part of its statistics.
 */
export {
  fitLogisticRegression,
  type LogisticRegressionModel,
  type LogisticRegressionOptions,
  predictLogisticProbabilities,
} from '@traitlens/core/internal';
