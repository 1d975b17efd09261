import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCommitSha, parseModelSource } from './parse-model-source';

describe('parseModelSource', () => {
  it('parses hub ids with and without a revision', () => {
    expect(parseModelSource('hf:meta-llama/Llama-3.3-70B-Instruct')).toEqual({
      kind: 'hub',
      repo: 'meta-llama/Llama-3.3-70B-Instruct',
      revision: 'main',
      defaultRevision: true,
    });
    expect(parseModelSource('hf:Qwen/Qwen2.5-0.5B@v1.0')).toEqual({
      kind: 'hub',
      repo: 'Qwen/Qwen2.5-0.5B',
      revision: 'v1.0',
      defaultRevision: false,
    });
    expect(parseModelSource('hf:gpt2@refs/pr/1')).toMatchObject({ repo: 'gpt2', revision: 'refs/pr/1' });
  });

  it('treats everything else as a local folder, resolved to an absolute path', () => {
    expect(parseModelSource('./models/tiny')).toEqual({ kind: 'local', path: resolve('models/tiny') });
  });

  it('rejects ids and revisions that could escape the cache', () => {
    for (const source of [
      'hf:',
      'hf:a/b/c',
      'hf:org--x/name',
      'hf:../x',
      'hf:org/name@',
      'hf:org/name@../../etc',
      'hf:org/name@a//b',
      'hf:org/na me',
    ]) {
      expect(() => parseModelSource(source), source).toThrow(/hf:org\/name|revision/);
    }
  });

  it('recognises full commit shas only', () => {
    expect(isCommitSha('0123456789abcdef0123456789abcdef01234567')).toBe(true);
    expect(isCommitSha('0123456')).toBe(false);
    expect(isCommitSha('main')).toBe(false);
  });
});
