import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinyModel, type TinyModel } from '../testing/create-tiny-model';
import { encodePromptIds } from './encode-prompt-ids';
import type { HuggingFaceTokenizer } from './hugging-face-tokenizer';
import { loadTokenizer } from './load-tokenizer';

const storiesDirectory = join(import.meta.dirname, '../../../../../shared/models/stories260k/hf');
const hasStories = existsSync(join(storiesDirectory, 'tokenizer.json'));
if (!hasStories)
  console.warn(
    `Skipping stories260k tokenizer tests: ${storiesDirectory} is absent (the ../shared folder beside the repo).`,
  );

const created: TinyModel[] = [];
async function makeModel(options: Parameters<typeof createTinyModel>[0] = {}): Promise<TinyModel> {
  const model = await createTinyModel({ layerCount: 1, ...options });
  created.push(model);
  return model;
}
afterAll(async () => {
  await Promise.all(created.map((model) => model.remove()));
});

async function editJson(path: string, edit: (value: Record<string, unknown>) => void): Promise<void> {
  const value = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(value);
  await writeFile(path, JSON.stringify(value));
}

function expectCode(code: string, pattern?: RegExp) {
  return (error: unknown) =>
    TraitlensError.hasCode(error, code as never) && (pattern === undefined || pattern.test(error.message));
}

describe('loadTokenizer on a tiny byte-level BPE model', () => {
  let model: TinyModel;
  let tokenizer: HuggingFaceTokenizer;
  beforeAll(async () => {
    model = await makeModel();
    tokenizer = await loadTokenizer(model.directory);
  });

  it('reads special tokens, end-of-sequence ids from every config and the vocabulary size', () => {
    expect(tokenizer.bosToken).toBe('<|begin_of_text|>');
    expect(tokenizer.bosTokenId).toBe(model.bosTokenId);
    // generation_config lists both; config.json and tokenizer_config add nothing new.
    expect(tokenizer.eosTokenIds).toEqual(model.eosTokenIds);
    expect(tokenizer.vocabSize).toBe(model.config.vocab_size);
    expect(tokenizer.hasChatTemplate).toBe(true);
  });

  it('encodes with and without BOS and decodes back, skipping special tokens on request', () => {
    const text = 'The robot waved at the boats.';
    const plain = tokenizer.encode(text, { addSpecialTokens: false });
    expect(tokenizer.encode(text)).toEqual([model.bosTokenId, ...plain]);
    expect(tokenizer.decode(plain)).toBe(text);
    expect(tokenizer.decode([model.bosTokenId, ...plain])).toBe(`<|begin_of_text|>${text}`);
    expect(tokenizer.decode([model.bosTokenId, ...plain], { skipSpecialTokens: true })).toBe(text);
    expect(tokenizer.decode([])).toBe('');
  });

  it('splits decoded text into per-token strings that concatenate to the decoded text', () => {
    const ids = tokenizer.encode('Hi 世界 🙂, the light!\n  ok');
    const pieces = tokenizer.tokenStrings(ids);
    expect(pieces).toHaveLength(ids.length);
    expect(pieces.join('')).toBe(tokenizer.decode(ids));
    expect(pieces[0]).toBe('<|begin_of_text|>');
    // Byte tokens of one character: the last carries it, the others are empty.
    const world = pieces.indexOf('世');
    expect(pieces.slice(world - 2, world + 1)).toEqual(['', '', '世']);
    expect(pieces).toContain(' the');
    expect(tokenizer.tokenStrings([])).toEqual([]);
  });

  it('keeps a lone partial character at the end rather than dropping it', () => {
    const ids = tokenizer.encode('🙂', { addSpecialTokens: false }).slice(0, 2);
    expect(tokenizer.tokenStrings(ids).join('')).toBe(tokenizer.decode(ids));
  });
});

describe('encodePromptIds', () => {
  it('never duplicates the BOS a chat template writes', async () => {
    const model = await makeModel();
    const tokenizer = await loadTokenizer(model.directory);
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: ' Hello there ' },
    ];
    const rendered = tokenizer.chatTemplate!.render(messages);
    expect(rendered).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    const ids = encodePromptIds(tokenizer, tokenizer.chatTemplate, messages);
    expect(ids.filter((id) => id === model.bosTokenId)).toHaveLength(1);
    expect(ids[0]).toBe(model.bosTokenId);
    expect(ids).toEqual(tokenizer.encode(rendered, { addSpecialTokens: false }));
    expect(ids.at(-1)).not.toBe(model.specialTokenIds['<|eot_id|>']);
    const withoutPrompt = encodePromptIds(tokenizer, tokenizer.chatTemplate, messages, {
      addGenerationPrompt: false,
    });
    expect(withoutPrompt.at(-1)).toBe(model.specialTokenIds['<|eot_id|>']);
  });

  it('adds BOS to raw text unless the text already starts with it, and passes token ids through', async () => {
    const model = await makeModel();
    const tokenizer = await loadTokenizer(model.directory);
    const plain = tokenizer.encode('Once upon a time', { addSpecialTokens: false });
    expect(encodePromptIds(tokenizer, undefined, 'Once upon a time')).toEqual([model.bosTokenId, ...plain]);
    expect(encodePromptIds(tokenizer, undefined, '<|begin_of_text|>Once upon a time')).toEqual([
      model.bosTokenId,
      ...plain,
    ]);
    expect(encodePromptIds(tokenizer, undefined, [5, 6, 7])).toEqual([5, 6, 7]);
    expect(() => encodePromptIds(tokenizer, undefined, [])).toThrow(/empty/);
    expect(() => encodePromptIds(tokenizer, undefined, [1, -2])).toThrow(/position 1/);
  });

  it('adds the tokenizer BOS to chat text when the template does not write one', async () => {
    const model = await makeModel({
      chatTemplate: "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
    });
    const tokenizer = await loadTokenizer(model.directory);
    const ids = encodePromptIds(tokenizer, tokenizer.chatTemplate, [{ role: 'user', content: 'hi' }]);
    expect(ids).toEqual(tokenizer.encode('user: hi\n'));
    expect(ids[0]).toBe(model.bosTokenId);
  });

  it('refuses chat messages for a model without a chat template', async () => {
    const model = await makeModel({ chatTemplate: null });
    const tokenizer = await loadTokenizer(model.directory);
    expect(tokenizer.hasChatTemplate).toBe(false);
    expect(tokenizer.eosTokenIds).toEqual(model.eosTokenIds);
    expect(() =>
      encodePromptIds(tokenizer, tokenizer.chatTemplate, [{ role: 'user', content: 'hi' }]),
    ).toThrow(
      expect.objectContaining({
        code: 'CHAT_TEMPLATE_ERROR',
        message: expect.stringMatching(/no chat template/),
      }),
    );
  });
});

describe('loadTokenizer configuration variants and errors', () => {
  it('honours add_bos_token from tokenizer_config over the post-processor', async () => {
    const model = await makeModel();
    await editJson(join(model.directory, 'tokenizer_config.json'), (config) => {
      config.add_bos_token = false;
    });
    const tokenizer = await loadTokenizer(model.directory);
    expect(tokenizer.encode('hi')).toEqual(tokenizer.encode('hi', { addSpecialTokens: false }));
  });

  it('selects a named template from a list and reads chat_template.jinja', async () => {
    const model = await makeModel({ chatTemplate: null });
    await editJson(join(model.directory, 'tokenizer_config.json'), (config) => {
      config.chat_template = [
        { name: 'tool_use', template: 'TOOLS {{ messages[0].content }}' },
        { name: 'default', template: 'DEFAULT {{ messages[0].content }}' },
      ];
    });
    const messages = [{ role: 'user', content: 'x' }];
    expect((await loadTokenizer(model.directory)).chatTemplate!.render(messages)).toBe('DEFAULT x');
    expect(
      (await loadTokenizer(model.directory, { chatTemplateName: 'tool_use' })).chatTemplate!.render(messages),
    ).toBe('TOOLS x');
    await expect(loadTokenizer(model.directory, { chatTemplateName: 'nope' })).rejects.toSatisfy(
      expectCode('CHAT_TEMPLATE_ERROR', /tool_use, default/),
    );

    const other = await makeModel({ chatTemplate: null });
    await writeFile(
      join(other.directory, 'chat_template.jinja'),
      '{{ bos_token }}[{{ messages[0].content }}]',
    );
    const fromFile = await loadTokenizer(other.directory);
    expect(fromFile.chatTemplate!.render(messages)).toBe('<|begin_of_text|>[x]');
  });

  it('turns raise_exception, bad syntax and bad messages into clear errors', async () => {
    const model = await makeModel({
      chatTemplate:
        "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok",
    });
    const tokenizer = await loadTokenizer(model.directory);
    expect(tokenizer.chatTemplate!.render([{ role: 'user', content: 'a' }])).toBe('ok');
    expect(() => tokenizer.chatTemplate!.render([{ role: 'assistant', content: 'a' }])).toThrow(
      expect.objectContaining({
        code: 'CHAT_TEMPLATE_ERROR',
        message: expect.stringContaining('Conversation must start with user'),
      }),
    );
    expect(() => tokenizer.chatTemplate!.render([{ role: 'user' } as never])).toThrow(
      /role: string, content: string/,
    );
    const broken = await makeModel({ chatTemplate: '{% for m in messages %}{{ m.content }' });
    await expect(loadTokenizer(broken.directory)).rejects.toSatisfy(
      expectCode('CHAT_TEMPLATE_ERROR', /does not parse/),
    );
  });

  it('reports a missing or malformed tokenizer.json and malformed tokenizer_config.json', async () => {
    const model = await makeModel();
    await expect(loadTokenizer(join(model.directory, 'nowhere'))).rejects.toSatisfy(
      expectCode('TOKENIZER_ERROR', /tokenizer\.json is missing/),
    );
    await writeFile(join(model.directory, 'tokenizer_config.json'), '{"bos_token": ');
    await expect(loadTokenizer(model.directory)).rejects.toSatisfy(
      expectCode('TOKENIZER_ERROR', /tokenizer_config\.json is not valid JSON/),
    );
    await writeFile(join(model.directory, 'tokenizer.json'), '{ not json');
    await expect(loadTokenizer(model.directory)).rejects.toSatisfy(
      expectCode('TOKENIZER_ERROR', /tokenizer\.json is not valid JSON/),
    );
    await writeFile(
      join(model.directory, 'tokenizer.json'),
      JSON.stringify({ model: { type: 'Mystery' }, added_tokens: [] }),
    );
    await writeFile(join(model.directory, 'tokenizer_config.json'), '{}');
    await expect(loadTokenizer(model.directory)).rejects.toSatisfy(
      expectCode('TOKENIZER_ERROR', /Cannot build a tokenizer/),
    );
  });
});

describe.skipIf(!hasStories)('loadTokenizer on stories260k (SentencePiece BPE with byte fallback)', () => {
  const knownIds = [
    1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267,
  ];
  let tokenizer: HuggingFaceTokenizer;
  beforeAll(async () => {
    tokenizer = await loadTokenizer(storiesDirectory);
  });

  it('decodes the known greedy ids to the README text and encodes that text back to the same ids', () => {
    const text = tokenizer.decode(knownIds, { skipSpecialTokens: true });
    expect(text).toBe('Once upon a time, there was a little girl named Lily. She loved to');
    expect(tokenizer.encode(text)).toEqual(knownIds);
    expect(encodePromptIds(tokenizer, tokenizer.chatTemplate, text)).toEqual(knownIds);
    expect(encodePromptIds(tokenizer, tokenizer.chatTemplate, `<s>${text}`)).toEqual(
      tokenizer.encode(`<s>${text}`, { addSpecialTokens: false }),
    );
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.eosTokenIds).toEqual([2]);
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.hasChatTemplate).toBe(false);
  });

  it('gives per-token strings with SentencePiece spaces and byte-fallback characters', () => {
    const pieces = tokenizer.tokenStrings(knownIds);
    expect(pieces.slice(0, 5)).toEqual(['<s>', ' Once', ' upon', ' a', ' time']);
    expect(pieces.join('')).toBe(tokenizer.decode(knownIds));
    const ids = tokenizer.encode('Lily saw 世界 🙂!');
    const multiByte = tokenizer.tokenStrings(ids);
    expect(multiByte.join('')).toBe(tokenizer.decode(ids));
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('Lily saw 世界 🙂!');
    expect(multiByte).toContain('世');
    expect(multiByte).toContain('');
  });
});
