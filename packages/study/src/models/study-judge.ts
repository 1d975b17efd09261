import { join } from 'node:path';
import { type Judge, TraitlensError } from '@traitlens/core';
import { type LanguageModel, loadModel } from '@traitlens/model-runtime';
import { LexiconJudge, LocalJudge, OpenAiJudge } from '@traitlens/steering';
import { parseJudgeSpec } from '@traitlens/steering/internal';
import type { Experiment } from '../config/load-experiment';
import { toLoadModelOptions } from './study-models';

/** The experiment's judge, made once (a local judge model loads once) and specialised per trait. */
export interface StudyJudge {
  readonly id: string;
  /** The judge for one trait; `evalPrompt` is a trait's own judge prompt (steering.json `eval_prompt`). */
  forTrait(evalPrompt?: string): Judge;
  dispose(): Promise<void>;
}

/** Builds the judge the config names: `openai:<model>`, `local:<model source>` or `lexicon`. */
export async function createStudyJudge(
  experiment: Experiment,
  log: (line: string) => void,
): Promise<StudyJudge> {
  const settings = experiment.config.judge;
  if (!settings)
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${experiment.file}: this stage needs a judge; add a judge block (e.g. judge: {spec: lexicon}).`,
      { details: { file: experiment.file } },
    );
  const spec = parseJudgeSpec(settings.spec);
  const prompts = (evalPrompt: string | undefined) => (evalPrompt === undefined ? {} : { trait: evalPrompt });
  switch (spec.kind) {
    case 'lexicon': {
      const judge = new LexiconJudge(settings.lexicons ? { lexicons: settings.lexicons } : {});
      return { id: judge.id, forTrait: () => judge, dispose: async () => {} };
    }
    case 'openai':
      return {
        id: settings.spec,
        forTrait: (evalPrompt) =>
          new OpenAiJudge({
            model: spec.model,
            prompts: prompts(evalPrompt),
            // Judgements are cached on disk, so a resumed run pays for no request twice.
            cacheDirectory: join(experiment.directory, '.traitlens-cache', 'judge'),
            ...(typeof settings.baseUrl === 'string' ? { baseUrl: settings.baseUrl } : {}),
            ...(Array.isArray(settings.baseUrl) ? { baseUrls: settings.baseUrl } : {}),
            ...(settings.concurrency ? { concurrency: settings.concurrency } : {}),
          }),
        dispose: async () => {},
      };
    case 'local': {
      log(`loading judge ${spec.model}`);
      const model: LanguageModel = await loadModel(
        spec.model,
        toLoadModelOptions(experiment.runtime.instruct, log),
      );
      return {
        id: settings.spec,
        forTrait: (evalPrompt) => new LocalJudge({ model, prompts: prompts(evalPrompt) }),
        dispose: () => model.dispose(),
      };
    }
  }
}
