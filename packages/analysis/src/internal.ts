/**
 * `@traitlens/analysis/internal`: what sibling traitlens packages and this package's tests share but users do not
 * need. Not a public API: anything here may change in any release without notice (see CONTRIBUTING.md).
 */
export { parseResponseAggregation } from './projections/projection-settings';
