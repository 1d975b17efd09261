import { join } from 'node:path';
import type { ProjectedActivations } from '../projections/project-activation-files';
import type { ProjectionSettings } from '../projections/projection-settings';
import { readTokenProjectionSeries } from '../projections/summarize-token-projections';
import type { VectorBank } from '../projections/vector-bank';
import type { TokenViewFile, TokenViewPrompt } from './analysis-files';
import { analysisFormatVersion } from './analysis-format-version';
import { type ExperimentPrompts, lookupPrompt, readPromptTwin } from './experiment-prompts';
import type { PromptLabelling } from './load-prompt-labelling';
import { roundSignificant, writeAnalysisJson } from './write-analysis-json';

export interface WriteTokenViewFileOptions {
  output: string;
  projected: ProjectedActivations;
  bank: VectorBank;
  prompts: ExperimentPrompts;
  settings: ProjectionSettings;
  labelling: PromptLabelling;
}

/** Writes analysis/token-view.json (the kept prompts' per-token projections, 4 digits); returns its name. */
export async function writeTokenViewFile(options: WriteTokenViewFileOptions): Promise<string> {
  const { projected, bank, settings } = options;
  // Random controls are left out token by token: they matter in aggregate, and the file stays small.
  const shown = bank.vectors.flatMap((vector, k) => (vector.isRandomBaseline ? [] : [k]));
  const entries: TokenViewPrompt[] = [];
  for (const [index, prompt] of options.prompts.prompts.entries()) {
    const kept = projected.tokens.get(prompt.key);
    if (!kept) continue;
    const twin = await readPromptTwin(prompt);
    const series = (projections: typeof kept.a) =>
      bank.layers.map((_, l) =>
        shown.map((k) =>
          Array.from(readTokenProjectionSeries({ projections, bank, settings }, l, k), (value) =>
            roundSignificant(value, 4),
          ),
        ),
      );
    const { labels, promptAnnotations, groups } = options.labelling;
    entries.push({
      promptId: prompt.key,
      promptText: typeof twin?.promptText === 'string' ? twin.promptText : null,
      label: Number.isNaN(labels[index]!) ? null : labels[index]!,
      group: groups.get(prompt.key)?.group ?? null,
      exploitSpans: (lookupPrompt(promptAnnotations, prompt, options.prompts.uniqueIds) ?? []).map(
        (span): [number, number] => [span.start, span.end],
      ),
      paired: projected.b ? projected.paired[index] === 1 : null,
      tokens: tokenStrings(twin, settings, kept.a),
      a: series(kept.a),
      b: kept.b ? series(kept.b) : null,
    });
  }
  const file: TokenViewFile = {
    format: 'traitlens.analysis.token-view',
    formatVersion: analysisFormatVersion,
    measure: settings.measure,
    centred: settings.centred,
    part: settings.part,
    layers: bank.layers,
    vectorIds: shown.map((k) => bank.vectors[k]!.id),
    prompts: entries,
  };
  await writeAnalysisJson(join(options.output, 'token-view.json'), file, { compact: true });
  return 'token-view.json';
}

/** The twin's token strings where they match the projected tokens, else `#<token id>`. */
function tokenStrings(
  twin: Record<string, unknown> | undefined,
  settings: ProjectionSettings,
  projections: { tokenCount: number; tokenIds: ArrayLike<number> },
): string[] {
  const twinTokens = twin?.[settings.part === 'prompt' ? 'promptTokens' : 'responseTokens'];
  return Array.isArray(twinTokens) && twinTokens.length === projections.tokenCount
    ? twinTokens.map(String)
    : Array.from(projections.tokenIds, (id) => `#${id}`);
}
