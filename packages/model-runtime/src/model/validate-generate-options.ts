import { TraitlensError } from '@traitlens/core';
import type { GenerateOptions } from './model-types';

function refuse(field: string, value: unknown, allowed: string): never {
  throw new TraitlensError(
    'INVALID_ARGUMENT',
    `generate: ${field} is ${typeof value === 'number' ? value : JSON.stringify(value)}; it must be ${allowed}.`,
    { details: { field, value: String(value), allowed } },
  );
}

/**
 * Checks generation options at the library's edge, before anything runs, so a bad value is an
 * INVALID_ARGUMENT naming the option and its range instead of a RangeError from deep inside (a negative
 * maxNewTokens reaching an array constructor) or a silently ignored setting (a negative temperature).
 */
export function validateGenerateOptions(options: GenerateOptions): void {
  const { maxNewTokens, temperature, topK, topP, seed, loraScale } = options;
  if (maxNewTokens !== undefined && (!Number.isSafeInteger(maxNewTokens) || maxNewTokens < 1))
    refuse('maxNewTokens', maxNewTokens, 'a whole number of at least 1');
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature >= 0))
    refuse('temperature', temperature, 'a finite number >= 0 (0 = greedy)');
  if (topK !== undefined && (!Number.isSafeInteger(topK) || topK < 0))
    refuse('topK', topK, 'a whole number >= 0 (0 = off)');
  if (topP !== undefined && !(Number.isFinite(topP) && topP > 0 && topP <= 1))
    refuse('topP', topP, 'a number in (0, 1]');
  if (seed !== undefined && !Number.isSafeInteger(seed)) refuse('seed', seed, 'a whole number');
  const scales = loraScale === undefined ? [] : typeof loraScale === 'number' ? [loraScale] : loraScale;
  for (const scale of scales)
    if (typeof scale !== 'number' || !Number.isFinite(scale)) refuse('loraScale', scale, 'a finite number');
}
