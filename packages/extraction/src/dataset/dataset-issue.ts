import { relative } from 'node:path';

/** Kinds of problem the validator reports; stable, for programs that filter them. */
export type DatasetIssueCode =
  | 'missing-prompts'
  | 'mixed-formats'
  | 'both-formats'
  | 'empty-class'
  | 'empty-line'
  | 'trailing-blank-lines'
  | 'trailing-whitespace'
  | 'duplicate-prompt'
  | 'identical-pair'
  | 'unbalanced-classes'
  | 'few-prompts'
  | 'malformed-json'
  | 'malformed-row'
  | 'unknown-key'
  | 'missing-rubric'
  | 'incomplete-rubric'
  | 'missing-steering'
  | 'malformed-steering'
  | 'few-steering-questions'
  | 'duplicate-steering-question'
  | 'file-too-large'
  | 'invalid-encoding'
  | 'binary-content'
  | 'line-too-long';

/** One problem in a data set: errors fail validation; warnings are reported. */
export interface DatasetIssue {
  severity: 'error' | 'warning';
  code: DatasetIssueCode;
  /** File name inside the trait folder, e.g. `positive.txt`. */
  file: string;
  /** 1-based line, when the problem has one. */
  line?: number;
  /** 1-based column, for JSON syntax errors. */
  column?: number;
  message: string;
}

/**
 * `path/to/file:line:column: error: message`, the form editors and terminals make clickable; the path
 * is relative to `base` (default: the working directory).
 */
export function formatDatasetIssue(
  directory: string,
  issue: DatasetIssue,
  base: string = process.cwd(),
): string {
  const path = relative(base, `${directory}/${issue.file}`) || issue.file;
  const location =
    issue.line === undefined
      ? ''
      : issue.column === undefined
        ? `:${issue.line}`
        : `:${issue.line}:${issue.column}`;
  return `${path}${location}: ${issue.severity}: ${issue.message}`;
}
