/**
 * A small GPT-2-style byte-level BPE tokenizer, built in memory: the 256 byte tokens, merges learned
 * deterministically from a short built-in English text, and Llama-3-style special tokens. Real enough
 * to exercise every code path of a Hugging Face tokenizer.json (pre-tokenizer, BPE merges, byte-level
 * decoding, added tokens, a TemplateProcessing post-processor that adds BOS) while staying a few KB.
 */

/** The special tokens, in id order after the learned vocabulary. */
export const tinySpecialTokens = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eot_id|>',
] as const;

export type TinySpecialToken = (typeof tinySpecialTokens)[number];

export interface TinyTokenizer {
  /** The tokenizer.json object. */
  tokenizerJson: Record<string, unknown>;
  /** Number of token ids (byte tokens + merges + special tokens). */
  vocabSize: number;
  specialTokenIds: Record<TinySpecialToken, number>;
  /** Learned merges, in priority order, as `left right` strings. */
  merges: string[];
}

const trainingText = `Once upon a time there was a small robot who lived in a quiet town by the sea.
Every morning the robot walked to the harbour to watch the boats. The fishermen waved at the robot,
and the robot waved back. One day a storm came in from the west and the boats could not return.
The robot thought for a long time, then it climbed the old lighthouse and turned on the light.
The boats saw the light and followed it home. After that, the town gave the robot a new name:
the keeper of the light. The robot was happy, and it kept the light burning every night.
She said that the answer was simple: read the question, think about it, and then write the answer.
He asked whether the results were reliable, and the team checked the numbers again and again.`;

/** GPT-2's pre-tokenizer pattern, the one the ByteLevel pre-tokenizer applies with use_regex. */
const pretokenizePattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte -> printable character map (bytes_to_unicode). */
export function createByteToUnicodeMap(): string[] {
  const characters: string[] = [];
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable =
      (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
    characters.push(String.fromCodePoint(printable ? byte : 256 + shifted++));
  }
  return characters;
}

function countWords(
  text: string,
  byteToUnicode: readonly string[],
): Map<string, { symbols: string[]; count: number }> {
  const words = new Map<string, { symbols: string[]; count: number }>();
  const encoder = new TextEncoder();
  for (const match of text.matchAll(pretokenizePattern)) {
    const symbols = [...encoder.encode(match[0])].map((byte) => byteToUnicode[byte]!);
    const key = symbols.join(' ');
    const entry = words.get(key);
    if (entry) entry.count++;
    else words.set(key, { symbols, count: 1 });
  }
  return words;
}

/** Standard BPE training: repeatedly merge the most frequent adjacent pair (ties: smallest pair text). */
function learnMerges(text: string, mergeCount: number, byteToUnicode: readonly string[]): string[] {
  const words = [...countWords(text, byteToUnicode).values()];
  const merges: string[] = [];
  for (let step = 0; step < mergeCount; step++) {
    const pairCounts = new Map<string, number>();
    for (const word of words) {
      for (let index = 0; index + 1 < word.symbols.length; index++) {
        const pair = `${word.symbols[index]} ${word.symbols[index + 1]}`;
        pairCounts.set(pair, (pairCounts.get(pair) ?? 0) + word.count);
      }
    }
    let bestPair: string | undefined;
    let bestCount = 0;
    for (const [pair, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && bestPair !== undefined && pair < bestPair)) {
        bestPair = pair;
        bestCount = count;
      }
    }
    if (bestPair === undefined || bestCount < 2) break;
    merges.push(bestPair);
    const [left, right] = bestPair.split(' ') as [string, string];
    for (const word of words) {
      const merged: string[] = [];
      for (let index = 0; index < word.symbols.length; index++) {
        if (
          index + 1 < word.symbols.length &&
          word.symbols[index] === left &&
          word.symbols[index + 1] === right
        ) {
          merged.push(left + right);
          index++;
        } else {
          merged.push(word.symbols[index]!);
        }
      }
      word.symbols = merged;
    }
  }
  return merges;
}

/** Builds the tokenizer; `mergeCount` merges are learned (fewer if the text runs out of repeated pairs). */
export function buildTinyTokenizer(mergeCount = 48): TinyTokenizer {
  const byteToUnicode = createByteToUnicodeMap();
  const vocab: Record<string, number> = {};
  byteToUnicode.forEach((character, byte) => {
    vocab[character] = byte;
  });
  let nextId = 256;
  const merges = learnMerges(trainingText, mergeCount, byteToUnicode);
  for (const merge of merges) {
    const token = merge.replace(' ', '');
    if (vocab[token] === undefined) vocab[token] = nextId++;
  }
  const specialTokenIds = {} as Record<TinySpecialToken, number>;
  const addedTokens = tinySpecialTokens.map((content) => {
    specialTokenIds[content] = nextId;
    return {
      id: nextId++,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    };
  });
  const bos = tinySpecialTokens[0];
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    // Llama 3's shape: byte-level offsets, then a template that puts BOS before every sequence.
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: bos, type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bos]: { id: bos, ids: [specialTokenIds[bos]], tokens: [bos] } },
        },
      ],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  return { tokenizerJson, vocabSize: nextId, specialTokenIds, merges };
}
