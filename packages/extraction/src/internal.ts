/**
 * `@traitlens/extraction/internal`: what sibling traitlens packages and this package's tests share but users do not
 * need. Not a public API: anything here may change in any release without notice (see CONTRIBUTING.md).
 */

export { formatDatasetIssue } from './dataset/dataset-issue';
export { caaMethod } from './methods/caa';
export { createSharedComputations } from './methods/shared-computations';
export { createMatrixFromRows } from './numeric/matrix';
export { vectorFilePath } from './pipeline/extract-vector-files';
export { parseTokenWindow } from './pipeline/token-window';
