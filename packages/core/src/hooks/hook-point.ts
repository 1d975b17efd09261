import { TraitlensError } from '../errors/traitlens-error';
import { isOneOf } from '../values/is-one-of';

/**
 * Canonical residual-stream sites of a decoder block, in the order they occur:
 * resid_pre -> (attention) -> attn_out, resid_mid = resid_pre + attn_out -> (MLP) -> mlp_out,
 * resid_post = resid_mid + mlp_out.
 */
export const hookSites = ['resid_pre', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'] as const;
export type HookSite = (typeof hookSites)[number];

/** A hook site at a 0-based layer. */
export interface HookPoint {
  layer: number;
  site: HookSite;
}

/**
 * The layer convention written into every file that stores vectors or activations, so a reader in any
 * language knows how layer indices map onto Hugging Face's `output_hidden_states`. HF's last entry
 * `hidden_states[n_layers]` is taken after the model's final norm, so it is not resid_post of the last
 * layer (which is the block output before that norm).
 */
export const layerConvention =
  'traitlens-v1: 0-based decoder layers; resid_pre of layer L = HF hidden_states[L]; resid_post of layer L = HF hidden_states[L+1] for L < n_layers-1; resid_post of the last layer is the block output before the final norm (HF hidden_states[n_layers] is after the final norm)';

/**
 * Convention strings earlier traitlens versions wrote. They describe the same layer numbering (only the
 * wording for the last layer was wrong), so files carrying them are read exactly as current ones.
 */
export const legacyLayerConventions: readonly string[] = [
  'traitlens-v1: 0-based decoder layers; resid_post of layer L = HF hidden_states[L+1]; resid_pre of layer L = HF hidden_states[L]',
];

/** Whether a file's `layer_convention` metadata names the numbering this version uses (current or legacy wording). */
export function isKnownLayerConvention(text: string): boolean {
  return text === layerConvention || legacyLayerConventions.includes(text);
}

export function isHookSite(value: unknown): value is HookSite {
  return isOneOf(value, hookSites);
}

/**
 * The one check of a hook site at an edge (CLI option, caller in plain JavaScript, capture request):
 * INVALID_ARGUMENT naming `what` (e.g. `--sites`, `Capture site`) and the value, listing the sites.
 */
export function assertHookSite(site: unknown, what: string): asserts site is HookSite {
  if (!isHookSite(site))
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${what}: "${String(site)}" is not a hook site; use one of ${hookSites.join(', ')}.`,
      { details: { site: String(site) } },
    );
}

/** assertHookSite and assertLayerInRange for a point of a model with `layerCount` layers. */
export function assertHookPoint(point: HookPoint, layerCount: number, what: string): void {
  assertHookSite(point.site, `${what} site`);
  assertLayerInRange(point.layer, layerCount, `${what} layer`);
}

/** `{site}.{layer}`, the one string form of a hook point (tensor names, CLI arguments). */
export function formatHookPoint(point: HookPoint): string {
  return `${point.site}.${point.layer}`;
}

/** Parses the `{site}.{layer}` form; the inverse of `formatHookPoint`. */
export function parseHookPoint(text: string): HookPoint {
  const dot = text.lastIndexOf('.');
  const site = text.slice(0, dot);
  const layerText = text.slice(dot + 1);
  const layer = Number(layerText);
  if (dot < 0 || !isHookSite(site) || layerText === '' || !Number.isInteger(layer) || layer < 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `"${text}" is not a hook point; expected {site}.{layer} with site one of ${hookSites.join(', ')} and a layer >= 0, e.g. resid_post.12.`,
      { details: { value: text } },
    );
  }
  return { site, layer };
}

/**
 * Parses a layer selection: `all`, a list `0,3,5`, ranges `2-4` (both ends included), strided ranges
 * `20:60:2` (start:end:step as in Python, end excluded: 20, 22, ..., 58; `start:end` steps by 1), or a mix
 * `0,2-4,10:20:5`; checks each layer against the model's layer count.
 */
export function parseLayerSelection(text: string, layerCount: number): number[] {
  const trimmed = text.trim();
  if (trimmed === 'all') return Array.from({ length: layerCount }, (_, i) => i);
  const layers = new Set<number>();
  const malformed = (part: string) =>
    new TraitlensError(
      'INVALID_ARGUMENT',
      `Layer selection "${text}" is malformed at "${part}"; use all, 0,3,5, 2-4 or 20:60:2 (start:end:step, end excluded).`,
      { details: { value: text } },
    );
  for (const part of trimmed.split(',')) {
    if (part.includes(':')) {
      const fields = part.split(':').map((value) => value.trim());
      const numbers = fields.map(Number);
      if (fields.length > 3 || fields.some((value) => value === '') || !numbers.every(Number.isInteger))
        throw malformed(part);
      const [start, end, step = 1] = numbers as [number, number, number?];
      if (step <= 0 || end <= start)
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `Layer range "${part}" selects no layer; write start:end:step with start < end and a step >= 1.`,
          { details: { value: text } },
        );
      for (let layer = start; layer < end; layer += step) {
        assertLayerInRange(layer, layerCount);
        layers.add(layer);
      }
      continue;
    }
    const range = part.trim().split('-');
    const bounds = range.map((value) => Number(value.trim()));
    if (range.length > 2 || bounds.some((value, i) => !Number.isInteger(value) || range[i]!.trim() === ''))
      throw malformed(part);
    const start = bounds[0]!;
    const end = bounds[1] ?? start;
    for (let layer = start; layer <= end; layer++) {
      assertLayerInRange(layer, layerCount);
      layers.add(layer);
    }
    if (end < start)
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Layer range "${part}" runs backwards; write it low-high.`,
      );
  }
  return [...layers].sort((a, b) => a - b);
}

export function assertLayerInRange(layer: number, layerCount: number, what = 'Layer'): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= layerCount) {
    throw new TraitlensError(
      'LAYER_OUT_OF_RANGE',
      `${what} ${layer} is out of range: the model has ${layerCount} layers (0-${layerCount - 1}).`,
      { details: { layer, layerCount } },
    );
  }
}
