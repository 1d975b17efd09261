import { describe, expect, it } from 'vitest';
import { TraitlensError } from '../errors/traitlens-error';
import {
  assertHookPoint,
  assertHookSite,
  formatHookPoint,
  isKnownLayerConvention,
  layerConvention,
  legacyLayerConventions,
  parseHookPoint,
  parseLayerSelection,
} from './hook-point';

describe('hook points', () => {
  it('formats and parses the {site}.{layer} form', () => {
    expect(formatHookPoint({ site: 'resid_post', layer: 12 })).toBe('resid_post.12');
    expect(parseHookPoint('attn_out.0')).toEqual({ site: 'attn_out', layer: 0 });
    for (const bad of ['resid_post', 'resid.3', 'resid_post.-1', 'resid_post.x', 'mlp_out.1.5']) {
      expect(() => parseHookPoint(bad)).toThrow(TraitlensError);
    }
  });

  it('parses layer selections and rejects out-of-range layers', () => {
    expect(parseLayerSelection('all', 3)).toEqual([0, 1, 2]);
    expect(parseLayerSelection('0,3,5', 6)).toEqual([0, 3, 5]);
    expect(parseLayerSelection('2-4', 6)).toEqual([2, 3, 4]);
    expect(parseLayerSelection('4, 0-1', 6)).toEqual([0, 1, 4]);
    // Python-style strided ranges, end excluded (an independent expectation: range(20, 60, 2)).
    expect(parseLayerSelection('20:60:2', 80)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + 2 * i));
    expect(parseLayerSelection('0:3', 6)).toEqual([0, 1, 2]);
    expect(parseLayerSelection('1,10:16:5', 16)).toEqual([1, 10, 15]);
    expect(() => parseLayerSelection('20:60:0', 80)).toThrow(/selects no layer/);
    expect(() => parseLayerSelection('20:60:2', 40)).toThrow(/40/);
    expect(() => parseLayerSelection('1:2:3:4', 8)).toThrow(/malformed/);
    const error = (() => {
      try {
        parseLayerSelection('0,9', 5);
      } catch (e) {
        return e;
      }
    })();
    expect(TraitlensError.hasCode(error, 'LAYER_OUT_OF_RANGE')).toBe(true);
    expect((error as Error).message).toMatch(/Layer 9 is out of range: the model has 5 layers \(0-4\)/);
    expect(() => parseLayerSelection('a-b', 5)).toThrow(/malformed/);
  });

  it('checks a site and a point with one message that names the caller, the value and the sites', () => {
    expect(() => assertHookSite('resid_mid', '--sites')).not.toThrow();
    expect(() => assertHookSite('residual', '--sites')).toThrow(
      '--sites: "residual" is not a hook site; use one of resid_pre, attn_out, resid_mid, mlp_out, resid_post.',
    );
    expect(() => assertHookSite(3, 'Capture site')).toThrow(TraitlensError);
    expect(() => assertHookPoint({ site: 'mlp_out', layer: 2 }, 3, 'Capture')).not.toThrow();
    expect(() => assertHookPoint({ site: 'mlp_out', layer: 3 }, 3, 'Capture')).toThrow(
      /^Capture layer 3 is out of range: the model has 3 layers \(0-2\)/,
    );
    expect(() =>
      assertHookPoint({ site: 'mlp' as unknown as 'mlp_out', layer: 0 }, 3, 'Projection vector'),
    ).toThrow(/^Projection vector site: "mlp" is not a hook site/);
  });
});

describe('layer convention', () => {
  it('states that HF hidden_states[n_layers] is after the final norm, not resid_post of the last layer', () => {
    expect(layerConvention).toMatch(/resid_post of layer L = HF hidden_states\[L\+1\] for L < n_layers-1/);
    expect(layerConvention).toMatch(/hidden_states\[n_layers\] is after the final norm/);
  });

  it('accepts the current and the legacy wording, nothing else', () => {
    expect(isKnownLayerConvention(layerConvention)).toBe(true);
    expect(isKnownLayerConvention(legacyLayerConventions[0]!)).toBe(true);
    expect(legacyLayerConventions[0]).toContain('resid_post of layer L = HF hidden_states[L+1];');
    expect(isKnownLayerConvention('traitlens-v2: 1-based')).toBe(false);
  });
});
