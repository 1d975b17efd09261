/**
 * `@traitlens/capture/internal`: what sibling traitlens packages and this package's tests share but users do not
 * need. Not a public API: anything here may change in any release without notice (see CONTRIBUTING.md).
 */
export {
  capturedResponseFormat,
  capturedResponseFormatVersion,
  readCapturedResponse,
  writeCapturedResponse,
} from './storage/captured-response';
export { inferencePaths } from './storage/inference-paths';
