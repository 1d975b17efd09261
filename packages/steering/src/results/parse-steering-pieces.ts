import { hookSites, steeringModes, steeringPositions, TraitlensError } from '@traitlens/core';
import { isOneOf } from '@traitlens/core/internal';
import type {
  LayerNormRecord,
  SearchCandidateRecord,
  SteeringContext,
  SteeringResults,
  SteeringRunRecord,
  SteeringSearchRecord,
} from './steering-results';

/**
 * The edge where the files of a steering results folder are read back (context.json, runs/, layers/,
 * searches/, an older results.json): each is checked for the fields the store and the searches rely on,
 * so a damaged or foreign file fails here, naming the file and the field, instead of deep inside a search.
 */

/** `searches/<id>.json`: what a search is; its candidates are files of their own. */
export interface SearchHeader {
  id: string;
  kind: SteeringSearchRecord['kind'];
  settings: Record<string, unknown>;
  /** Every candidate id of the whole search, in order (a shard writes only some of them). */
  candidates: string[];
}

/** `searches/<id>/<candidate>.json`. */
export type CandidateFile = SearchCandidateRecord & { updatedAt: string };

/** A field's test and how the error message describes what was expected. */
interface FieldCheck {
  test(value: unknown): boolean;
  expected: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

const text: FieldCheck = { test: (value) => typeof value === 'string', expected: 'a string' };
const number: FieldCheck = { test: isNumber, expected: 'a finite number' };
const numberOrNull: FieldCheck = {
  test: (value) => value === null || isNumber(value),
  expected: 'a number or null',
};
const object: FieldCheck = { test: isRecord, expected: 'an object' };
const list: FieldCheck = { test: Array.isArray, expected: 'a list' };
const numberList: FieldCheck = {
  test: (value) => Array.isArray(value) && value.every(isNumber),
  expected: 'a list of numbers',
};
const textList: FieldCheck = {
  test: (value) => Array.isArray(value) && value.every((entry) => typeof entry === 'string'),
  expected: 'a list of strings',
};
const oneOf = (choices: readonly string[]): FieldCheck => ({
  test: (value) => isOneOf(value, choices),
  expected: `one of ${choices.map((choice) => `"${choice}"`).join(', ')}`,
});
const optional = (check: FieldCheck): FieldCheck => ({
  test: (value) => value === undefined || check.test(value),
  expected: `${check.expected} when present`,
});

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const json = JSON.stringify(value);
  return json.length > 40 ? `${json.slice(0, 37)}...` : json;
}

/** The error of a piece with a wrong field: the file, the field, what it holds and what to do. */
function invalidPiece(path: string, field: string, expected: string, value: unknown): never {
  throw new TraitlensError(
    'INVALID_EXPERIMENT',
    `${path}: "${field}" should be ${expected} but is ${describeValue(value)}; the file is damaged or was not written by traitlens steer. Delete it and re-run the same steering command to redo that part.`,
    { details: { file: path, field } },
  );
}

/** `value` as an object whose fields pass their checks; field names in errors start with `prefix`. */
function expectFields(
  path: string,
  value: unknown,
  fields: Record<string, FieldCheck>,
  prefix = '',
): Record<string, unknown> {
  if (!isRecord(value))
    return invalidPiece(path, prefix.replace(/\.$/, '') || '(top level)', 'an object', value);
  for (const [field, check] of Object.entries(fields))
    if (!check.test(value[field])) invalidPiece(path, `${prefix}${field}`, check.expected, value[field]);
  return value;
}

export function parseSteeringContext(value: unknown, path: string): SteeringContext {
  expectFields(path, value, {
    trait: text,
    model: text,
    modelIdentity: optional(text),
    vectors: object,
    judge: text,
    questions: object,
    rubricHash: text,
    promptFormat: oneOf(['chat', 'raw']),
    generation: object,
    relevanceCap: object,
  });
  return value as SteeringContext;
}

export function parseRunRecord(value: unknown, path: string): SteeringRunRecord {
  const record = expectFields(path, value, {
    id: text,
    key: text,
    kind: oneOf(['baseline', 'layer', 'multi-layer']),
    interventions: list,
    mode: optional(oneOf(steeringModes)),
    positions: optional(oneOf(steeringPositions)),
    traitMean: numberOrNull,
    coherenceMean: numberOrNull,
    responses: optional(text),
    createdAt: text,
  });
  for (const [index, intervention] of (record.interventions as unknown[]).entries())
    expectFields(
      path,
      intervention,
      { layer: number, site: optional(oneOf(hookSites)), coefficient: number, vector: optional(text) },
      `interventions[${index}].`,
    );
  return value as SteeringRunRecord;
}

export function parseLayerNormRecord(value: unknown, path: string): LayerNormRecord {
  expectFields(path, value, { meanResidualNorm: number, vectorNorm: number, baseCoefficient: number });
  return value as LayerNormRecord;
}

export function parseSearchHeader(value: unknown, path: string): SearchHeader {
  expectFields(path, value, {
    id: text,
    kind: oneOf(['adaptive', 'grid', 'multi-layer']),
    settings: object,
    candidates: textList,
  });
  return value as SearchHeader;
}

export function parseCandidateFile(value: unknown, path: string): CandidateFile {
  const record = expectFields(path, value, {
    id: text,
    layers: numberList,
    steps: list,
    traitDelta: numberOrNull,
    updatedAt: text,
  });
  for (const [index, step] of (record.steps as unknown[]).entries())
    expectFields(
      path,
      step,
      { step: number, coefficient: number, traitMean: numberOrNull, coherenceMean: numberOrNull },
      `steps[${index}].`,
    );
  if (record.best !== null)
    expectFields(path, record.best, { step: number, coefficient: number, traitMean: numberOrNull }, 'best.');
  return value as CandidateFile;
}

/**
 * A results.json of the single-file layout (before per-run files), to split into pieces: its runs,
 * layers and searches are checked like the pieces they become.
 */
export function parseSingleFileResults(value: unknown, path: string): SteeringResults {
  const results = expectFields(path, value, {
    context: object,
    runs: list,
    layers: optional(object),
    searches: optional(list),
  });
  for (const [index, run] of (results.runs as unknown[]).entries())
    parseRunRecord(run, `${path} (runs[${index}])`);
  for (const [layer, record] of Object.entries((results.layers as Record<string, unknown> | undefined) ?? {}))
    parseLayerNormRecord(record, `${path} (layers.${layer})`);
  for (const [index, search] of ((results.searches as unknown[] | undefined) ?? []).entries()) {
    const where = `${path} (searches[${index}])`;
    const header = expectFields(where, search, {
      id: text,
      kind: oneOf(['adaptive', 'grid', 'multi-layer']),
      settings: object,
      candidates: list,
      updatedAt: text,
    });
    for (const [position, candidate] of (header.candidates as unknown[]).entries())
      parseCandidateFile(
        { ...(candidate as object), updatedAt: header.updatedAt },
        `${where} (candidates[${position}])`,
      );
  }
  return value as SteeringResults;
}
