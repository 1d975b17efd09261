import { describe, expect, it } from 'vitest';
import { TraitlensError } from './traitlens-error';

describe('TraitlensError', () => {
  it('carries code, message, cause and details', () => {
    const cause = new Error('inner');
    const error = new TraitlensError('FILE_NOT_FOUND', 'config.json is missing', {
      cause,
      details: { file: 'x' },
    });
    expect(error.code).toBe('FILE_NOT_FOUND');
    expect(error.message).toBe('config.json is missing');
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ file: 'x' });
    expect(error.name).toBe('TraitlensError');
    expect(error).toBeInstanceOf(Error);
  });

  it('is recognised across package copies through the symbol marker', () => {
    const foreign = Object.assign(new Error('x'), {
      [Symbol.for('traitlens.error')]: true,
      code: 'RUNTIME_ERROR',
    });
    expect(TraitlensError.isInstance(foreign)).toBe(true);
    expect(TraitlensError.isInstance(new Error('plain'))).toBe(false);
    expect(TraitlensError.isInstance(null)).toBe(false);
    expect(TraitlensError.hasCode(new TraitlensError('HUB_ERROR', 'x'), 'HUB_ERROR')).toBe(true);
    expect(TraitlensError.hasCode(new TraitlensError('HUB_ERROR', 'x'), 'HUB_OFFLINE')).toBe(false);
  });
});
