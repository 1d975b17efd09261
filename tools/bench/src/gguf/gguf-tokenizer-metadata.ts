import type { GgufValue } from '@traitlens/extraction';

/** llama.cpp token types (llama_token_type). */
const tokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

interface TokenizerJson {
  model: {
    type: string;
    vocab: Record<string, number>;
    merges?: (string | [string, string])[];
    byte_fallback?: boolean;
  };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: { type?: string; pretokenizers?: { type?: string }[] } | null;
}

interface SpecialTokenIds {
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
}

/**
 * The `tokenizer.ggml.*` metadata llama.cpp needs to load a model, from a Hugging Face tokenizer.json:
 * a SentencePiece-style BPE with byte fallback (Llama 1/2, TinyStories) becomes llama.cpp's `llama`
 * vocabulary, a byte-level BPE (GPT-2, Llama 3) its `gpt2` vocabulary with merges. Ids beyond the
 * tokenizer (an embedding padded to a round size) get `[PAD<id>]` unused tokens, as llama.cpp's own
 * converter writes them. SentencePiece scores are not in tokenizer.json; ids are in score order there,
 * so the score is minus the id (only tokenizing text depends on it, never the model's outputs).
 */
export function ggufTokenizerMetadata(
  tokenizer: TokenizerJson,
  vocabSize: number,
  special: SpecialTokenIds,
): [string, GgufValue][] {
  const tokens: string[] = Array.from({ length: vocabSize }, (_, id) => `[PAD${id}]`);
  const types: number[] = Array(vocabSize).fill(tokenType.unused);
  for (const [text, id] of Object.entries(tokenizer.model.vocab)) {
    if (id >= vocabSize) continue;
    tokens[id] = text;
    types[id] =
      /^<0x[0-9A-F]{2}>$/.test(text) && tokenizer.model.byte_fallback ? tokenType.byte : tokenType.normal;
  }
  for (const added of tokenizer.added_tokens ?? []) {
    if (added.id >= vocabSize) continue;
    tokens[added.id] = added.content;
    types[added.id] = added.special ? tokenType.control : tokenType.userDefined;
  }
  if (special.unk !== undefined && special.unk < vocabSize) types[special.unk] = tokenType.unknown;
  const byteLevel =
    tokenizer.pre_tokenizer?.type === 'ByteLevel' ||
    tokenizer.pre_tokenizer?.pretokenizers?.some((step) => step.type === 'ByteLevel') === true;
  const metadata: [string, GgufValue][] = [];
  if (tokenizer.model.type === 'BPE' && byteLevel) {
    const merges = (tokenizer.model.merges ?? []).map((merge) =>
      typeof merge === 'string' ? merge : merge.join(' '),
    );
    metadata.push(
      ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
      ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
      ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
      ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: types }],
      ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges }],
    );
  } else {
    metadata.push(
      ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
      ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
      ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
      ['tokenizer.ggml.scores', { type: 'array', itemType: 'float32', value: tokens.map((_, id) => -id) }],
      ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: types }],
    );
  }
  const ids: [string, number | undefined][] = [
    ['tokenizer.ggml.bos_token_id', special.bos],
    ['tokenizer.ggml.eos_token_id', special.eos],
    ['tokenizer.ggml.unknown_token_id', special.unk],
    ['tokenizer.ggml.padding_token_id', special.pad],
  ];
  for (const [key, id] of ids) if (id !== undefined) metadata.push([key, { type: 'uint32', value: id }]);
  metadata.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: special.bos !== undefined }]);
  return metadata;
}
