import { TraitlensError } from '@traitlens/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ortLogSettings } from './ort-log-settings';

describe('ortLogSettings', () => {
  const saved = process.env.TRAITLENS_ORT_LOG;
  afterEach(() => {
    if (saved === undefined) delete process.env.TRAITLENS_ORT_LOG;
    else process.env.TRAITLENS_ORT_LOG = saved;
  });

  it('logs session errors and only fatal environment messages by default', () => {
    delete process.env.TRAITLENS_ORT_LOG;
    expect(ortLogSettings()).toEqual({ environmentLevel: 'fatal', sessionSeverity: 3 });
  });

  it('lifts a session to verbose for logPlacement, and every session for TRAITLENS_ORT_LOG', () => {
    delete process.env.TRAITLENS_ORT_LOG;
    expect(ortLogSettings({ logPlacement: true })).toEqual({ environmentLevel: 'fatal', sessionSeverity: 0 });
    process.env.TRAITLENS_ORT_LOG = 'Verbose';
    expect(ortLogSettings()).toEqual({ environmentLevel: 'verbose', sessionSeverity: 0 });
    process.env.TRAITLENS_ORT_LOG = 'warning';
    expect(ortLogSettings()).toEqual({ environmentLevel: 'warning', sessionSeverity: 2 });
  });

  it('refuses a value that is not a level, naming the variable and the levels', () => {
    process.env.TRAITLENS_ORT_LOG = 'loud';
    expect(() => ortLogSettings()).toThrow(TraitlensError);
    expect(() => ortLogSettings()).toThrow(/TRAITLENS_ORT_LOG=loud .*verbose, info, warning, error, fatal/);
  });
});
