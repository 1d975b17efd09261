import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TraitlensError, writeJsonAtomic } from '@traitlens/core';
import {
  type LayerNormRecord,
  type ScoredResponsesFile,
  type SteeringContext,
  type SteeringResults,
  type SteeringRunRecord,
  type SteeringSearchRecord,
  steeringResultsFormat,
  steeringResultsFormatVersion,
} from './steering-results';

/**
 * results.json and responses/ of one trait. Every change is written at once and atomically (the
 * responses file of a run before the run enters results.json), so an interrupted search loses at
 * most the run in progress, and a re-run finds every finished run by its configuration key.
 */
export class SteeringResultsStore {
  readonly directory: string;
  readonly resultsPath: string;
  readonly responsesDirectory: string;
  private readonly data: SteeringResults;
  private readonly runsByKey: Map<string, SteeringRunRecord>;
  private writing: Promise<void> = Promise.resolve();

  private constructor(directory: string, data: SteeringResults) {
    this.directory = directory;
    this.resultsPath = join(directory, 'results.json');
    this.responsesDirectory = join(directory, 'responses');
    this.data = data;
    this.runsByKey = new Map(data.runs.map((run) => [run.key, run]));
  }

  /** Opens (or starts) the results in `directory`; refuses results made in another context. */
  static async open(directory: string, context: SteeringContext): Promise<SteeringResultsStore> {
    const path = join(directory, 'results.json');
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === undefined) {
      const fresh: SteeringResults = {
        format: steeringResultsFormat,
        formatVersion: steeringResultsFormatVersion,
        context,
        baseline: null,
        layers: {},
        runs: [],
        searches: [],
        updatedAt: new Date().toISOString(),
      };
      return new SteeringResultsStore(directory, fresh);
    }
    let existing: SteeringResults;
    try {
      existing = JSON.parse(text) as SteeringResults;
    } catch (cause) {
      throw new TraitlensError(
        'INVALID_EXPERIMENT',
        `${path} is not valid JSON; move it away to start the steering results over.`,
        { cause, details: { file: path } },
      );
    }
    if (
      existing.format !== steeringResultsFormat ||
      existing.formatVersion !== steeringResultsFormatVersion ||
      !Array.isArray(existing.runs)
    ) {
      throw new TraitlensError(
        'INVALID_EXPERIMENT',
        `${path} is not a traitlens steering results file of format version ${steeringResultsFormatVersion}.`,
        { details: { file: path } },
      );
    }
    const differences = describeContextDifferences(existing.context, context);
    if (differences.length > 0) {
      throw new TraitlensError(
        'INVALID_EXPERIMENT',
        `${path} holds steering results made with different settings (${differences.join('; ')}). Numbers from different settings are not comparable: use another --experiment folder, or delete ${directory} to start over.`,
        { details: { file: path, differences } },
      );
    }
    return new SteeringResultsStore(directory, existing);
  }

  get results(): SteeringResults {
    return this.data;
  }

  findRun(key: string): SteeringRunRecord | undefined {
    return this.runsByKey.get(key);
  }

  /** Writes the scored responses, then records the run in results.json. */
  async saveRun(run: SteeringRunRecord, responses: ScoredResponsesFile): Promise<void> {
    await writeJsonAtomic(join(this.directory, run.responses), responses);
    if (!this.runsByKey.has(run.key)) {
      this.data.runs.push(run);
      this.runsByKey.set(run.key, run);
    }
    if (run.kind === 'baseline')
      this.data.baseline = { runId: run.id, traitMean: run.traitMean, coherenceMean: run.coherenceMean };
    await this.save();
  }

  async saveLayerNorms(norms: Record<string, LayerNormRecord>): Promise<void> {
    Object.assign(this.data.layers, norms);
    await this.save();
  }

  /** Adds a search record, replacing an earlier record of the same search. */
  async saveSearch(search: SteeringSearchRecord): Promise<void> {
    const index = this.data.searches.findIndex((existing) => existing.id === search.id);
    if (index >= 0) this.data.searches.splice(index, 1);
    this.data.searches.push(search);
    await this.save();
  }

  /** Writes results.json; writes are serialised so concurrent saves never interleave. */
  save(): Promise<void> {
    this.writing = this.writing.then(() => {
      this.data.updatedAt = new Date().toISOString();
      return writeJsonAtomic(this.resultsPath, this.data);
    });
    return this.writing;
  }
}

function describeContextDifferences(stored: SteeringContext, current: SteeringContext): string[] {
  const differences: string[] = [];
  const storedRecord = stored as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(current)) {
    const before = JSON.stringify(storedRecord[field]);
    const after = JSON.stringify(value);
    if (before !== after) differences.push(`${field}: ${shorten(before)} now ${shorten(after)}`);
  }
  return differences;
}

function shorten(text: string | undefined): string {
  if (text === undefined) return '(none)';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
