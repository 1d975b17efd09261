import { isOneOf } from '@traitlens/core/internal';
import { InvalidArgumentError } from 'commander';

/**
 * Option-value parsers for commander. Every numeric option and every enum of every command is parsed
 * by one of these, so a bad value fails while the command line is read, before any file or model is
 * touched, and commander's message names the option: `option '--top-p <p>' argument '5' is invalid.
 * Allowed: a number from 0 (exclusive) to 1.`
 */

export interface NumberRange {
  /** Smallest allowed value. */
  min?: number;
  /** Largest allowed value. */
  max?: number;
  /** The bounds themselves are not allowed (e.g. a fraction strictly between 0 and 1). */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
}

function describeRange(kind: 'a whole number' | 'a number', range: NumberRange): string {
  const { min, max } = range;
  const low = min === undefined ? '' : `${min}${range.exclusiveMin ? ' (exclusive)' : ''}`;
  const high = max === undefined ? '' : `${max}${range.exclusiveMax ? ' (exclusive)' : ''}`;
  if (low && high) return `${kind} from ${low} to ${high}`;
  if (low) return `${kind} of at least ${low}`;
  if (high) return `${kind} of at most ${high}`;
  return kind;
}

function checkRange(value: number, kind: 'a whole number' | 'a number', range: NumberRange) {
  const { min, max } = range;
  const tooLow = min !== undefined && (range.exclusiveMin ? value <= min : value < min);
  const tooHigh = max !== undefined && (range.exclusiveMax ? value >= max : value > max);
  if (tooLow || tooHigh) throw new InvalidArgumentError(`Allowed: ${describeRange(kind, range)}.`);
  return value;
}

/** A whole number within `range` (inclusive unless stated). */
export function integerOption(range: NumberRange = {}): (value: string) => number {
  return (text) => {
    const value = Number(text.trim());
    if (text.trim() === '' || !Number.isSafeInteger(value))
      throw new InvalidArgumentError(
        `"${text}" is not a whole number; allowed: ${describeRange('a whole number', range)}.`,
      );
    return checkRange(value, 'a whole number', range);
  };
}

/** A finite number within `range` (inclusive unless stated). */
export function numberOption(range: NumberRange = {}): (value: string) => number {
  return (text) => {
    const value = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(value))
      throw new InvalidArgumentError(
        `"${text}" is not a number; allowed: ${describeRange('a number', range)}.`,
      );
    return checkRange(value, 'a number', range);
  };
}

/** One of `choices`, spelled exactly. */
export function choiceOption<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!isOneOf(value, choices)) throw new InvalidArgumentError(`Allowed: ${choices.join(', ')}.`);
    return value;
  };
}

/** A comma-separated list, each entry one of `choices`. */
export function choiceListOption<T extends string>(choices: readonly T[]): (value: string) => T[] {
  return (value) => {
    const entries = parseList(value);
    const chosen = entries.filter((entry) => isOneOf(entry, choices));
    if (entries.length === 0 || chosen.length < entries.length)
      throw new InvalidArgumentError(`Allowed: a comma-separated list of ${choices.join(', ')}.`);
    return chosen;
  };
}

/** A comma-separated list of numbers, each within `range`. */
export function numberListOption(range: NumberRange = {}): (value: string) => number[] {
  const parseOne = numberOption(range);
  return (value) => {
    const entries = parseList(value);
    if (entries.length === 0)
      throw new InvalidArgumentError(`Allowed: a comma-separated list of numbers, e.g. 2,4,8.`);
    return entries.map(parseOne);
  };
}

/** A whole number, any sign (seeds). */
export function parseInteger(value: string): number {
  return integerOption()(value);
}

/** A finite number, any sign. */
export function parseNumber(value: string): number {
  return numberOption()(value);
}

export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

/** For repeatable options: `--vectors a --vectors b`. */
export function collectValues(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** For list options given either way: `--prompt-set a,b` or `--prompt-set a --prompt-set b`. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...parseList(value)];
}
