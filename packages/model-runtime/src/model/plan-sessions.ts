import type { DecoderGraphOptions } from '../graph/build-decoder-graph';
import { ensureGraphForPlan, type ModelArtifacts } from '../graph/graph-cache';
import { type HookPlan, hookPlanKey } from '../hooks/hook-plan';
import {
  type CreatedSession,
  createInferenceSession,
  type SessionOptions,
} from '../session/create-inference-session';
import type { ModelConfig } from './model-types';

interface SessionEntry {
  session: Promise<CreatedSession>;
  /** Runs using the session now; a session in use is never released. */
  inFlight: number;
}

export interface PlanSessionsOptions {
  artifacts: ModelArtifacts;
  config: ModelConfig;
  /** Graph options with the provider's defaults filled in. */
  graphOptions: DecoderGraphOptions;
  sessionOptions: SessionOptions;
  /** Sessions kept loaded at most (each holds its own copy of the weights on a device). */
  maxSessions: number;
}

/**
 * One ORT session per hook plan (decision 0002), least recently used first. At most `maxSessions` are
 * kept: idle ones are released, and a plan that comes back is rebuilt from the cached graph.
 */
export class PlanSessions {
  private readonly sessions = new Map<string, SessionEntry>();
  private creations = 0;

  constructor(private readonly options: PlanSessionsOptions) {}

  /** Runs `use` with the plan's session, held (never released) until it settles. */
  async using<T>(requested: HookPlan, use: (created: CreatedSession) => Promise<T>): Promise<T> {
    const entry = this.acquire(requested);
    try {
      return await use(await entry.session);
    } finally {
      entry.inFlight--;
      this.releaseIdle();
    }
  }

  private acquire(requested: HookPlan): SessionEntry {
    const { artifacts, config, graphOptions, sessionOptions } = this.options;
    // A graph with steering at every site serves every steering plan: only captures and projections
    // pick the graph then.
    const plan = graphOptions.steerEverySite ? { ...requested, steer: [] } : requested;
    const key = hookPlanKey(plan);
    let entry = this.sessions.get(key);
    if (entry) {
      this.sessions.delete(key);
    } else {
      const created = ensureGraphForPlan(artifacts, config, plan, graphOptions).then((path) =>
        createInferenceSession(path, sessionOptions),
      );
      this.creations++;
      const fresh: SessionEntry = { session: created, inFlight: 0 };
      created.catch(() => {
        if (this.sessions.get(key) === fresh) this.sessions.delete(key);
      });
      entry = fresh;
    }
    this.sessions.set(key, entry);
    entry.inFlight++;
    this.releaseIdle();
    return entry;
  }

  private releaseIdle(): void {
    for (const [key, entry] of this.sessions) {
      if (this.sessions.size <= this.options.maxSessions) break;
      if (entry.inFlight > 0) continue;
      this.sessions.delete(key);
      entry.session.then((created) => created.session.release()).catch(() => undefined);
    }
  }

  /** How many sessions were created so far. */
  get createdCount(): number {
    return this.creations;
  }

  /** How many sessions (hook plans) are loaded now. */
  get loadedCount(): number {
    return this.sessions.size;
  }

  async dispose(): Promise<void> {
    const entries = [...this.sessions.values()];
    this.sessions.clear();
    for (const entry of entries) {
      try {
        await (await entry.session).session.release();
      } catch {
        // A session that failed to create has nothing to release.
      }
    }
  }
}
