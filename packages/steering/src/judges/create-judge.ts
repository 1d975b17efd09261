import type { Judge } from '@traitlens/core';
import { type LoadModelOptions, loadModel } from '@traitlens/model-runtime';
import type { JudgePromptTemplates } from './judge-prompt-templates';
import { LexiconJudge, type LexiconJudgeOptions } from './lexicon-judge';
import { LocalJudge } from './local-judge';
import { OpenAiJudge, type OpenAiJudgeOptions } from './openai-judge';
import { type JudgeSpec, parseJudgeSpec } from './parse-judge-spec';

export interface CreateJudgeOptions {
  /** Replacement prompt templates (any kind). */
  prompts?: Partial<JudgePromptTemplates>;
  /** A trait's steering.json `eval_prompt`: replaces the trait template. */
  evalPrompt?: string | undefined;
  /** On-disk judgement cache (endpoint judge). */
  cacheDirectory?: string | undefined;
  /** Further settings of the endpoint judge (base URL, key, concurrency, retries). */
  openai?: Omit<OpenAiJudgeOptions, 'model' | 'prompts' | 'cacheDirectory'>;
  /** How the local judge's model is loaded. */
  loadModelOptions?: LoadModelOptions;
  lexicon?: LexiconJudgeOptions;
}

export interface CreatedJudge {
  judge: Judge;
  /** Frees what the judge holds (the local judge's model). */
  dispose(): Promise<void>;
}

/** Builds the judge a `--judge` value names (`openai:<model>`, `local:<model source>` or `lexicon`). */
export async function createJudge(
  spec: JudgeSpec | string,
  options: CreateJudgeOptions = {},
): Promise<CreatedJudge> {
  const parsed = typeof spec === 'string' ? parseJudgeSpec(spec) : spec;
  const prompts: Partial<JudgePromptTemplates> = {
    ...options.prompts,
    ...(options.evalPrompt === undefined ? {} : { trait: options.evalPrompt }),
  };
  switch (parsed.kind) {
    case 'lexicon':
      return { judge: new LexiconJudge(options.lexicon), dispose: async () => {} };
    case 'openai':
      return {
        judge: new OpenAiJudge({
          ...options.openai,
          model: parsed.model,
          prompts,
          cacheDirectory: options.cacheDirectory,
        }),
        dispose: async () => {},
      };
    case 'local': {
      const model = await loadModel(parsed.model, options.loadModelOptions);
      return { judge: new LocalJudge({ model, prompts }), dispose: () => model.dispose() };
    }
  }
}
