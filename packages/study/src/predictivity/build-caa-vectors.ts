import type { LanguageModel } from '@traitlens/model-runtime';
import type { PreparedAbItem } from './build-ab-sequences';
import { forwardPositions } from './forward-positions';

/** The ways a CAA vector is built: token position x item subset. `letter` over all items is the CAA vector. */
export const caaVectorVariants = {
  letter: 'answer-letter token, every training item (the CAA vector)',
  'answer-end': 'last answer token (e.g. ")"), every training item',
  'letter-first-half': 'answer-letter token, first half of the training items',
  'letter-second-half': 'answer-letter token, second half of the training items',
  'letter-behaviour-A': 'answer-letter token, items whose behaviour answer is (A)',
  'letter-behaviour-B': 'answer-letter token, items whose behaviour answer is (B)',
  'letter-balanced':
    'answer-letter token, mean of the (A) and (B) subset vectors: which letter shows the behaviour cancels out',
} as const;

export type CaaVectorVariant = keyof typeof caaVectorVariants;

/** Per variant: the vector of each layer (raw mean difference) and how many items built it. */
export type CaaVectors = Map<CaaVectorVariant, { items: number; layers: Map<number, Float32Array> }>;

export interface BuildCaaVectorsOptions {
  model: LanguageModel;
  items: readonly PreparedAbItem[];
  layers: readonly number[];
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Contrastive activation addition vectors (Rimsky et al.): per layer, the mean over items of the residual
 * stream with the behaviour's answer minus with the other answer, at the answer-letter token — what the
 * built-in `caa` extraction method computes from those activations (a test checks they agree). Sums are
 * kept per variant instead of the activations, so memory does not grow with the item count.
 */
export async function buildCaaVectors(options: BuildCaaVectorsOptions): Promise<CaaVectors> {
  const { model, items, layers, batchSize } = options;
  const hidden = model.config.hiddenSize;
  const sums = new Map<CaaVectorVariant, { items: number; layers: Float64Array[] }>();
  const summed: CaaVectorVariant[] = [
    'letter',
    'answer-end',
    'letter-first-half',
    'letter-second-half',
    'letter-behaviour-A',
    'letter-behaviour-B',
  ];
  for (const variant of summed)
    sums.set(variant, { items: 0, layers: layers.map(() => new Float64Array(hidden)) });
  const half = Math.ceil(items.length / 2);
  // Items go through in chunks so progress shows; each item is two rows (behaviour, other).
  const chunk = Math.max(1, batchSize * 4);
  for (let start = 0; start < items.length; start += chunk) {
    const group = items.slice(start, start + chunk);
    const captured = await forwardPositions({
      model,
      requests: group.flatMap(({ sequences }) => [
        { ids: sequences.behaviour, positions: [sequences.letterPosition, sequences.behaviourEnd] },
        { ids: sequences.other, positions: [sequences.letterPosition, sequences.otherEnd] },
      ]),
      layers,
      batchSize,
    });
    group.forEach(({ item }, index) => {
      const [behaviourLetter, behaviourEnd] = captured[2 * index]!;
      const [otherLetter, otherEnd] = captured[2 * index + 1]!;
      const position = start + index;
      const add = (variant: CaaVectorVariant, plus: Float32Array[], minus: Float32Array[]) => {
        const sum = sums.get(variant)!;
        sum.items++;
        sum.layers.forEach((values, l) => {
          for (let d = 0; d < hidden; d++) values[d]! += plus[l]![d]! - minus[l]![d]!;
        });
      };
      add('letter', behaviourLetter!, otherLetter!);
      add('answer-end', behaviourEnd!, otherEnd!);
      add(position < half ? 'letter-first-half' : 'letter-second-half', behaviourLetter!, otherLetter!);
      add(
        item.behaviourAnswer === '(A)' ? 'letter-behaviour-A' : 'letter-behaviour-B',
        behaviourLetter!,
        otherLetter!,
      );
    });
    options.onProgress?.(Math.min(start + group.length, items.length), items.length);
  }
  const vectors: CaaVectors = new Map();
  for (const [variant, sum] of sums) {
    if (sum.items === 0) continue;
    vectors.set(variant, {
      items: sum.items,
      layers: new Map(
        layers.map((layer, l) => [layer, Float32Array.from(sum.layers[l]!, (value) => value / sum.items)]),
      ),
    });
  }
  // A vector from items whose behaviour answer is (A) also holds "the letter A minus B"; from (B) items
  // the opposite. Averaging the two subset vectors cancels the letter and keeps what they share.
  const fromA = vectors.get('letter-behaviour-A');
  const fromB = vectors.get('letter-behaviour-B');
  if (fromA && fromB) {
    vectors.set('letter-balanced', {
      items: fromA.items + fromB.items,
      layers: new Map(
        layers.map((layer) => {
          const a = fromA.layers.get(layer)!;
          const b = fromB.layers.get(layer)!;
          return [layer, a.map((value, d) => (value + b[d]!) / 2)];
        }),
      ),
    });
  }
  return vectors;
}
