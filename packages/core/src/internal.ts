/**
 * `@traitlens/core/internal`: what the sibling traitlens packages share but users do not need. Not a
 * public API: anything here may change in any release without notice (see CONTRIBUTING.md).
 */
export { computeAurocOfClasses } from './stats/auroc';
export {
  computeLogGamma,
  computeRegularizedIncompleteBeta,
  computeStudentTCdf,
  computeStudentTTwoSidedPValue,
} from './stats/student-t';
