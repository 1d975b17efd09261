import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CapturedResponse, readCapturedResponse, writeCapturedResponse } from './captured-response';
import { inspectCapturedFile } from './inspect-captured-file';

const record: CapturedResponse = {
  format: 'traitlens.response',
  formatVersion: '1',
  promptId: '7',
  promptSet: 'train_100',
  variant: 'lora',
  model: 'hf:org/model@abc',
  lora: 'hf:org/adapter@def',
  loraScale: 1,
  promptSetText: 'Hello?',
  promptText: '<s>Hello?',
  responseText: ' Hi',
  promptTokenIds: [1, 20, 21],
  responseTokenIds: [30],
  promptTokens: ['<s>', 'Hello', '?'],
  responseTokens: [' Hi'],
  finishReason: 'length',
  generation: { maxNewTokens: 1, chatTemplate: false, decoding: 'greedy' },
  biasId: 44,
};

describe('response records', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'traitlens-responses-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('round-trips and reads a missing file as undefined', async () => {
    await writeCapturedResponse(join(directory, '7.json'), record);
    expect(await readCapturedResponse(join(directory, '7.json'))).toEqual(record);
    expect(await readCapturedResponse(join(directory, 'absent.json'))).toBeUndefined();
  });

  it('names the broken field of a file that is not a response record', async () => {
    const path = join(directory, 'broken.json');
    await writeFile(path, JSON.stringify({ ...record, responseTokens: [] }));
    await expect(readCapturedResponse(path)).rejects.toThrow(
      /broken.json is not a traitlens response file: "responseTokens" is not one string per response token id \(1\)/,
    );
    await writeFile(path, '{');
    await expect(readCapturedResponse(path)).rejects.toMatchObject({ code: 'INVALID_EXPERIMENT' });
  });

  it('treats a missing or unreadable activation file as not captured', async () => {
    expect(await inspectCapturedFile(join(directory, 'absent.safetensors'))).toBeUndefined();
    await writeFile(join(directory, 'torn.safetensors'), Buffer.from([1, 2, 3]));
    expect(await inspectCapturedFile(join(directory, 'torn.safetensors'))).toBeUndefined();
  });
});
