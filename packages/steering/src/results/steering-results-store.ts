import { link, readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { removeStaleTemporaryFiles, TraitlensError, writeFileAtomic, writeJsonAtomic } from '@traitlens/core';
import { temporaryFileName } from '@traitlens/core/internal';
import {
  type CandidateFile,
  parseCandidateFile,
  parseLayerNormRecord,
  parseRunRecord,
  parseSearchHeader,
  parseSingleFileResults,
  parseSteeringContext,
  type SearchHeader,
} from './parse-steering-pieces';
import {
  type LayerNormRecord,
  type ScoredResponsesFile,
  type SearchCandidateRecord,
  type SteeringContext,
  type SteeringResults,
  type SteeringRunRecord,
  type SteeringSearchRecord,
  steeringResultsFormat,
  steeringResultsFormatVersion,
} from './steering-results';

const kindOrder: Record<SteeringRunRecord['kind'], number> = { baseline: 0, layer: 1, 'multi-layer': 2 };

/** One order for runs, whatever order processes finished them in: kind, layers, coefficients, id. */
function compareRuns(a: SteeringRunRecord, b: SteeringRunRecord): number {
  if (a.kind !== b.kind) return kindOrder[a.kind] - kindOrder[b.kind];
  const length = Math.max(a.interventions.length, b.interventions.length);
  for (let index = 0; index < length; index++) {
    const x = a.interventions[index];
    const y = b.interventions[index];
    if (!x || !y) return x ? 1 : -1;
    if (x.layer !== y.layer) return x.layer - y.layer;
    if (x.coefficient !== y.coefficient) return x.coefficient - y.coefficient;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

async function listJson(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * A JSON file of the folder, checked by `parse` (which names the file and field of a problem); undefined
 * when the file does not exist.
 */
async function readJson<T>(path: string, parse: (value: unknown, path: string) => T): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${path} is not valid JSON; delete it and re-run the same steering command to redo that part.`,
      { cause, details: { file: path } },
    );
  }
  return parse(value, path);
}

/** A file name for an id that may hold `/` or `:` (multi-layer candidate ids, trait names). */
function fileNameOf(id: string): string {
  return `${id.replace(/[^\w.-]/g, '_')}.json`;
}

/**
 * The steering results of one trait, safe for several processes writing one folder at once (shards of a
 * job array, or two `steer` runs with different layers). Every finished piece is its own file, written
 * atomically and never rewritten by another piece:
 *
 *     context.json                      the settings every run here was made with (first writer wins)
 *     runs/<run id>.json                one run record; its scored responses in responses/<run id>.json
 *     layers/<layer>.json               one layer's residual norm and base coefficient
 *     searches/<search id>.json         a search's kind, settings and candidate ids
 *     searches/<search id>/<cand>.json  one finished candidate (a layer, or the multi-layer combination)
 *
 * results.json (the documented summary) is rebuilt from those files after every change, in one fixed
 * order, until what was written matches what is on disk: whichever process writes last leaves every
 * process's results in it. A re-run finds every finished run by its configuration key.
 */
export class SteeringResultsStore {
  readonly directory: string;
  readonly resultsPath: string;
  readonly responsesDirectory: string;
  private readonly context: SteeringContext;
  private readonly runsById = new Map<string, SteeringRunRecord>();
  private readonly runsByKey = new Map<string, SteeringRunRecord>();
  private readonly pieces = new Map<string, unknown>();
  private layerNorms: Record<string, LayerNormRecord> = {};
  private searches: SteeringSearchRecord[] = [];
  private assembled: SteeringResults;
  private writing: Promise<void> = Promise.resolve();

  private constructor(directory: string, context: SteeringContext) {
    this.directory = directory;
    this.resultsPath = join(directory, 'results.json');
    this.responsesDirectory = join(directory, 'responses');
    this.context = context;
    this.assembled = this.assemble();
  }

  /** Opens (or starts) the results in `directory`; refuses results made in another context. */
  static async open(directory: string, context: SteeringContext): Promise<SteeringResultsStore> {
    const contextPath = join(directory, 'context.json');
    // Half-written files of killed processes (on this host) go; live writers' files stay.
    await removeStaleTemporaryFiles(directory, { recursive: true });
    let stored = await readJson(contextPath, parseSteeringContext);
    if (stored === undefined) {
      await migrateSingleFileResults(directory);
      stored = await createExclusively(contextPath, context, parseSteeringContext);
    }
    const differences = describeContextDifferences(stored, context);
    if (differences.length > 0) {
      throw new TraitlensError(
        'INVALID_EXPERIMENT',
        `${directory} holds steering results made with different settings (${differences.join('; ')}). Numbers from different settings are not comparable: use another --experiment folder, or delete ${directory} to start over.`,
        { details: { file: contextPath, differences } },
      );
    }
    const store = new SteeringResultsStore(directory, context);
    await store.refresh();
    return store;
  }

  /** The results as last read from disk (plus this process's own writes). */
  get results(): SteeringResults {
    return this.assembled;
  }

  findRun(key: string): SteeringRunRecord | undefined {
    return this.runsByKey.get(key);
  }

  /**
   * Reads what other processes have finished since the last read: new runs (run files never change once
   * written, so only new names are read), every layer and every search.
   */
  async refresh(): Promise<void> {
    for (const name of await listJson(join(this.directory, 'runs'))) {
      const id = name.slice(0, -'.json'.length);
      if (this.runsById.has(id)) continue;
      const run = await readJson(join(this.directory, 'runs', name), parseRunRecord);
      if (run) this.addRun(run);
    }
    const layers: Record<string, LayerNormRecord> = {};
    const layerNames = await listJson(join(this.directory, 'layers'));
    for (const name of layerNames.sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))) {
      const record = await this.readPiece(join('layers', name), parseLayerNormRecord);
      if (record) layers[name.slice(0, -'.json'.length)] = record;
    }
    this.layerNorms = layers;
    const searches: SteeringSearchRecord[] = [];
    for (const name of await listJson(join(this.directory, 'searches'))) {
      const header = await this.readPiece(join('searches', name), parseSearchHeader);
      if (!header) continue;
      const present = new Set(await listJson(join(this.directory, 'searches', header.id)));
      const candidates: SearchCandidateRecord[] = [];
      let updatedAt = '';
      for (const id of header.candidates) {
        if (!present.has(fileNameOf(id))) continue;
        const file = await this.readPiece(join('searches', header.id, fileNameOf(id)), parseCandidateFile);
        if (!file) continue;
        const { updatedAt: candidateUpdatedAt, ...candidate } = file;
        candidates.push(candidate);
        if (candidateUpdatedAt > updatedAt) updatedAt = candidateUpdatedAt;
      }
      if (candidates.length > 0)
        searches.push({ id: header.id, kind: header.kind, settings: header.settings, candidates, updatedAt });
    }
    this.searches = searches;
    this.assembled = this.assemble();
  }

  /**
   * A piece file, read once: layer, search and candidate files are written once per content (a re-run
   * of a search writes the same candidates again), so each refresh reads only new names and lists folders.
   */
  private async readPiece<T>(
    relativePath: string,
    parse: (value: unknown, path: string) => T,
  ): Promise<T | undefined> {
    if (this.pieces.has(relativePath)) return this.pieces.get(relativePath) as T;
    const value = await readJson(join(this.directory, relativePath), parse);
    if (value !== undefined) this.pieces.set(relativePath, value);
    return value;
  }

  /** Writes the scored responses, then the run record, then results.json. */
  async saveRun(run: SteeringRunRecord, responses: ScoredResponsesFile): Promise<void> {
    await writeJsonAtomic(join(this.directory, run.responses), responses);
    await writeJsonAtomic(join(this.directory, 'runs', `${run.id}.json`), run);
    this.addRun(run);
    await this.save();
  }

  async saveLayerNorms(norms: Record<string, LayerNormRecord>): Promise<void> {
    for (const [layer, record] of Object.entries(norms))
      await writeJsonAtomic(join(this.directory, 'layers', `${layer}.json`), record);
    await this.save();
  }

  /**
   * Records a search's finished candidates. `allCandidates` lists every candidate id of the whole search
   * when this process (a shard) ran only some of them; the search record then fills in as the other
   * shards finish. Re-running the same search replaces its candidates.
   */
  async saveSearch(search: SteeringSearchRecord, allCandidates?: readonly string[]): Promise<void> {
    const header: SearchHeader = {
      id: search.id,
      kind: search.kind,
      settings: search.settings,
      candidates: [...(allCandidates ?? search.candidates.map((candidate) => candidate.id))],
    };
    for (const candidate of search.candidates) {
      const file: CandidateFile = { ...candidate, updatedAt: search.updatedAt };
      const path = join('searches', search.id, fileNameOf(candidate.id));
      await writeJsonAtomic(join(this.directory, path), file);
      this.pieces.set(path, file);
    }
    await writeJsonAtomic(join(this.directory, 'searches', `${search.id}.json`), header);
    this.pieces.set(join('searches', `${search.id}.json`), header);
    await this.save();
  }

  /** The search record with this id as on disk now (every shard's candidates), if any. */
  async readSearch(id: string): Promise<SteeringSearchRecord | undefined> {
    await this.refresh();
    return this.searches.find((search) => search.id === id);
  }

  /**
   * Rebuilds results.json from the files on disk. Each pass re-reads after writing: a pass that read
   * before another process's last piece landed is followed by one that includes it. Writes of one
   * process are serialised.
   */
  save(): Promise<void> {
    this.writing = this.writing.then(async () => {
      await this.refresh();
      for (;;) {
        const text = `${JSON.stringify(this.assembled, null, 2)}\n`;
        await writeFileAtomic(this.resultsPath, text);
        await this.refresh();
        if (`${JSON.stringify(this.assembled, null, 2)}\n` === text) return;
      }
    });
    return this.writing;
  }

  private addRun(run: SteeringRunRecord): void {
    if (this.runsByKey.has(run.key)) return;
    this.runsById.set(run.id, run);
    this.runsByKey.set(run.key, run);
  }

  private assemble(): SteeringResults {
    const runs = [...this.runsById.values()].sort(compareRuns);
    const baselineRun = runs.find((run) => run.kind === 'baseline');
    // The newest piece's time, so the file's bytes depend only on what is on disk.
    let updatedAt = '';
    for (const run of runs) if (run.createdAt > updatedAt) updatedAt = run.createdAt;
    for (const search of this.searches) if (search.updatedAt > updatedAt) updatedAt = search.updatedAt;
    return {
      format: steeringResultsFormat,
      formatVersion: steeringResultsFormatVersion,
      context: this.context,
      baseline: baselineRun
        ? {
            runId: baselineRun.id,
            traitMean: baselineRun.traitMean,
            coherenceMean: baselineRun.coherenceMean,
          }
        : null,
      layers: this.layerNorms,
      runs,
      searches: this.searches,
      updatedAt: updatedAt || new Date(0).toISOString(),
    };
  }
}

/**
 * Writes `value` to `path` unless the file exists (link(2) fails on an existing name: atomic even
 * between machines on NFS), and returns what the file holds afterwards.
 */
async function createExclusively<T>(
  path: string,
  value: T,
  parse: (value: unknown, path: string) => T,
): Promise<T> {
  const staging = join(
    dirname(path),
    temporaryFileName(basename(path), Math.random().toString(16).slice(2, 10).padEnd(8, '0')),
  );
  await writeJsonAtomic(staging, value);
  try {
    await link(staging, path);
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const stored = await readJson(path, parse);
    if (stored === undefined) throw error;
    return stored;
  } finally {
    await rm(staging, { force: true });
  }
}

/**
 * A folder written by traitlens before per-run files (results.json only): splits it into the files
 * above once, so its runs are reused.
 */
async function migrateSingleFileResults(directory: string): Promise<void> {
  const path = join(directory, 'results.json');
  const existing = await readJson(path, (value) => value);
  if (existing === undefined) return;
  const header = existing as Partial<Record<'format' | 'formatVersion' | 'runs', unknown>> | null;
  if (
    header?.format !== steeringResultsFormat ||
    header.formatVersion !== steeringResultsFormatVersion ||
    !Array.isArray(header.runs)
  ) {
    throw new TraitlensError(
      'INVALID_EXPERIMENT',
      `${path} is not a traitlens steering results file of format version ${steeringResultsFormatVersion}.`,
      { details: { file: path } },
    );
  }
  const results = parseSingleFileResults(existing, path);
  for (const run of results.runs) await writeJsonAtomic(join(directory, 'runs', `${run.id}.json`), run);
  for (const [layer, record] of Object.entries(results.layers ?? {}))
    await writeJsonAtomic(join(directory, 'layers', `${layer}.json`), record);
  for (const search of results.searches ?? []) {
    for (const candidate of search.candidates)
      await writeJsonAtomic(join(directory, 'searches', search.id, fileNameOf(candidate.id)), {
        ...candidate,
        updatedAt: search.updatedAt,
      });
    await writeJsonAtomic(join(directory, 'searches', `${search.id}.json`), {
      id: search.id,
      kind: search.kind,
      settings: search.settings,
      candidates: search.candidates.map((candidate) => candidate.id),
    } satisfies SearchHeader);
  }
  await writeJsonAtomic(join(directory, 'context.json'), results.context);
}

function describeContextDifferences(stored: SteeringContext, current: SteeringContext): string[] {
  const differences: string[] = [];
  const storedRecord = stored as unknown as Record<string, unknown>;
  const byContent = stored.modelIdentity !== undefined && current.modelIdentity !== undefined;
  for (const [field, value] of Object.entries(current)) {
    // The folder a model was loaded from differs between machines; its content must not.
    if (field === 'model' && byContent) continue;
    if (field === 'modelIdentity' && !byContent) continue;
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
