import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { experimentLayout, TraitlensError } from '@traitlens/core';
import { listExtractedTraits } from './list-extracted-traits';

export interface ReadBestMethodsOptions {
  /** Trait names or `category/trait` (default: every trait with an extraction folder). */
  traits?: readonly string[] | undefined;
  /**
   * The option that asked for `best`, named in errors (default `methods "best"`; the CLI passes
   * `--method best`, the study `stages.steer.method "best"`).
   */
  requestedBy?: string | undefined;
}

/** What the `best` entry of an extraction evaluation.json holds (docs/extraction.md). */
interface EvaluationBest {
  sites?: Record<string, { best?: { method?: unknown } | null } | undefined>;
}

/**
 * Per trait (`category/trait`), the extraction method with the best held-out score: the method of
 * `sites.resid_post.best` in the trait's `extraction/<category>/<trait>/evaluation.json`. Extraction
 * ranks every (layer, method) of the site by its combined score on the validation split (random_baseline
 * excluded); on a tie the lower layer wins, then the method run first (the order of the evaluation's
 * `methods`). Every trait read must have that file: a missing one fails naming the trait and what to run.
 */
export async function readBestMethods(
  experiment: string,
  options: ReadBestMethodsOptions = {},
): Promise<Record<string, string>> {
  const requestedBy = options.requestedBy ?? 'methods "best"';
  const root = join(experiment, 'extraction');
  const found = (await listExtractedTraits(experiment)).map(
    ({ category, trait }) => [category, trait] as const,
  );
  const wanted = options.traits;
  const chosen = wanted
    ? found.filter(([category, trait]) =>
        wanted.some((name) => name === trait || name === `${category}/${trait}`),
      )
    : found;
  for (const name of wanted ?? []) {
    if (!chosen.some(([category, trait]) => name === trait || name === `${category}/${trait}`))
      throw missingEvaluation({
        experiment,
        trait: name,
        file: join(root, name.includes('/') ? name : `<category>/${name}`, 'evaluation.json'),
        requestedBy,
      });
  }
  const methods: Record<string, string> = {};
  for (const [category, trait] of chosen) {
    const name = `${category}/${trait}`;
    methods[name] = await readBestMethod({
      experiment,
      trait: name,
      file: experimentLayout(experiment).extraction(category, trait).evaluation,
      requestedBy,
    });
  }
  return methods;
}

interface BestMethodFile {
  experiment: string;
  trait: string;
  file: string;
  requestedBy: string;
}

async function readBestMethod(where: BestMethodFile): Promise<string> {
  const { trait, file } = where;
  let evaluation: unknown;
  try {
    evaluation = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw missingEvaluation({ ...where, cause });
  }
  // Read without trusting the shape: any missing level means "no best method".
  const method = (evaluation as EvaluationBest | null)?.sites?.resid_post?.best?.method;
  if (typeof method !== 'string' || method === '')
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${where.requestedBy}: ${file} names no best method at resid_post for ${trait} (sites.resid_post.best.method is missing: no method but random_baseline separated the validation split). Rerun extraction of ${trait} with at least one other method, or name the method.`,
      { details: { file, trait } },
    );
  return method;
}

function missingEvaluation(where: BestMethodFile & { cause?: unknown }): TraitlensError {
  const { experiment, trait, file } = where;
  const traits = trait.includes('/') ? trait : `<category>/${trait}`;
  return new TraitlensError(
    'FILE_NOT_FOUND',
    `${where.requestedBy} chooses each trait's method from its extraction evaluation, and ${file} for trait ${trait} is missing or unreadable. Run extraction of ${trait} first (run traitlens extract for ${trait}: traitlens extract --experiment ${experiment} --traits ${traits}; or the study's extract stage: traitlens run <experiment.yaml> --only extract), or name the methods.`,
    { cause: where.cause, details: { file, trait } },
  );
}
