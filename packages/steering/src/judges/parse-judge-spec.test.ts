import { describe, expect, it } from 'vitest';
import { createJudge } from './create-judge';
import { parseJudgeSpec } from './parse-judge-spec';

describe('parseJudgeSpec / createJudge', () => {
  it('parses the three judge kinds', () => {
    expect(parseJudgeSpec('lexicon')).toEqual({ kind: 'lexicon' });
    expect(parseJudgeSpec('openai:gpt-4.1-mini')).toEqual({ kind: 'openai', model: 'gpt-4.1-mini' });
    expect(parseJudgeSpec('local:hf:Qwen/Qwen2.5-0.5B-Instruct')).toEqual({
      kind: 'local',
      model: 'hf:Qwen/Qwen2.5-0.5B-Instruct',
    });
  });

  it('explains the accepted forms', () => {
    expect(() => parseJudgeSpec('gpt4')).toThrow(/not one of openai:<model>.*local:<model>.*lexicon/);
    expect(() => parseJudgeSpec('openai:')).toThrow(/not one of/);
  });

  it('builds an endpoint judge whose trait prompt is the eval_prompt', async () => {
    const { judge } = await createJudge('openai:judge-model', {
      evalPrompt: 'Q={question} A={answer}',
      openai: { baseUrl: 'http://127.0.0.1:9/v1' },
    });
    expect(judge.id).toBe('openai:judge-model');
    const { judge: lexicon } = await createJudge('lexicon');
    expect(lexicon.id).toBe('lexicon');
  });
});
