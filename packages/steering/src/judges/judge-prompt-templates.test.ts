import { describe, expect, it } from 'vitest';
import { defaultJudgePromptTemplates, renderJudgePrompt } from './judge-prompt-templates';

describe('renderJudgePrompt', () => {
  it('fills the trait prompt with rubric, question and the response cut at 2,000 characters', () => {
    const prompt = renderJudgePrompt({
      kind: 'trait',
      trait: 'happiness',
      rubric: 'HIGH: joy',
      question: 'Q?',
      response: 'y'.repeat(2100),
    });
    expect(prompt).toContain('displays the trait "happiness"');
    expect(prompt).toContain('HIGH: joy');
    expect(prompt).toContain('Q?');
    expect(prompt).toContain(`${'y'.repeat(2000)}\n[RESPONSE END]`);
  });

  it('accepts single-brace eval_prompt templates and substitutes in one pass', () => {
    const templates = { ...defaultJudgePromptTemplates, trait: 'Q={question} A={answer} R={{rubric}}' };
    const prompt = renderJudgePrompt(
      { kind: 'trait', rubric: 'r', question: 'has {answer} inside', response: 'resp' },
      templates,
    );
    expect(prompt).toBe('Q=has {answer} inside A=resp R=r');
  });

  it('keeps coherence content-neutral and needs a rubric only for trait requests', () => {
    const coherence = renderJudgePrompt({ kind: 'coherence', question: 'q', response: 'r' });
    expect(coherence).toMatch(/NOT its content/);
    expect(() => renderJudgePrompt({ kind: 'trait', question: 'q', response: 'r' })).toThrow(
      /needs a rubric/,
    );
  });
});
