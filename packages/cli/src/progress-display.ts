import cliProgress, { type MultiBar } from 'cli-progress';

/** One long step (a download, generating a prompt set, judging): `update` it, `finish` it. */
export interface ProgressTask {
  /** `done` of `total` units; `total` may change (a download learns its size late). */
  update(done: number, total?: number, detail?: string): void;
  finish(): void;
}

export interface ProgressDisplay {
  /** A new task; `done` is where it starts (work finished by an earlier run), excluded from the ETA. */
  task(label: string, options?: { total?: number; done?: number; unit?: string }): ProgressTask;
  /** A line of text that does not disturb the bars. */
  log(line: string): void;
  stop(): void;
}

export interface ProgressDisplayOptions {
  stream?: { write(text: string): unknown; isTTY?: boolean };
  /** Bars that redraw (a terminal) or plain lines (a log file). Default: whether the stream is a TTY. */
  interactive?: boolean;
  /**
   * Plain-line mode: the longest gap between two lines of a running task (default 30 s, or
   * TRAITLENS_PROGRESS_INTERVAL seconds). A line is also written at every tenth of the way.
   */
  intervalMs?: number;
  /**
   * Plain-line mode: a task prints nothing until it has run this long (default 10 s, at most the
   * interval), so quick steps (a cached model, a small data set) leave the log clean.
   */
  quietMs?: number;
  now?: () => number;
}

/** `42s`, `3m 05s`, `2h 03m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

function formatAmount(done: number, total: number | undefined, unit: string): string {
  if (unit === 'bytes') {
    const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
    return total === undefined ? `${mb(done)} MB` : `${mb(done)}/${mb(total)} MB`;
  }
  return `${done}${total === undefined ? '' : `/${total}`}${unit ? ` ${unit}` : ''}`;
}

function defaultIntervalMs(): number {
  const seconds = Number(process.env.TRAITLENS_PROGRESS_INTERVAL);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 30_000;
}

/** What the tasks of one display share. */
interface DisplayState {
  /** Terminal bars; undefined in plain-line mode. */
  bars: MultiBar | undefined;
  barCount: number;
  stopped: boolean;
  log: (line: string) => void;
  /**
   * Plain mode: a heartbeat writes a line for a task that has gone quiet (one long batch), so a log
   * never stays silent for more than the interval while work runs.
   */
  active: Set<() => void>;
  heartbeat: NodeJS.Timeout | undefined;
  intervalMs: number;
  quietMs: number;
  now: () => number;
}

/** Where a task stands: counts, and where and when this run started it (for the ETA). */
interface TaskCounts {
  label: string;
  unit: string;
  done: number;
  total: number | undefined;
  detail: string;
  startDone: number;
  startTime: number;
}

function createBars(stream: NonNullable<ProgressDisplayOptions['stream']>): MultiBar {
  return new cliProgress.MultiBar(
    {
      stream: stream as NodeJS.WritableStream,
      clearOnComplete: false,
      hideCursor: true,
      // Own payload names: cli-progress fills its built-in {eta} and {percentage} itself.
      format: '{label} |{bar}| {amount} {share} {remaining} {detail}',
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** The amount, share and ETA of a task as the bars and the plain lines show them. */
function describeTask(counts: TaskCounts, now: () => number) {
  const { done, total, startDone, startTime } = counts;
  // No estimate from nothing: before a second has passed the rate is noise.
  const eta =
    total === undefined || done <= startDone || now() - startTime < 1000
      ? undefined
      : (total - done) / ((done - startDone) / (now() - startTime)) / 1000;
  return {
    amount: formatAmount(done, total, counts.unit),
    share: total ? `${Math.floor((100 * done) / total)}%` : '',
    remaining: done >= (total ?? Infinity) ? '' : eta === undefined ? '' : `ETA ${formatDuration(eta)}`,
  };
}

function applyUpdate(counts: TaskCounts, done: number, total?: number, detail?: string): void {
  counts.done = done;
  if (total !== undefined) counts.total = total;
  if (detail !== undefined) counts.detail = detail;
}

const elapsedSince = (counts: TaskCounts, now: () => number) =>
  formatDuration((now() - counts.startTime) / 1000);

/** A task drawn as a redrawing bar; finishing it leaves a summary line above the remaining bars. */
function createBarTask(state: DisplayState, counts: TaskCounts, bars: MultiBar): ProgressTask {
  const { label } = counts;
  const bar = bars.create(counts.total ?? 0, counts.done, {
    label,
    detail: '',
    ...describeTask(counts, state.now),
  });
  state.barCount++;
  let finished = false;
  return {
    update(done, total, detail) {
      if (finished) return;
      applyUpdate(counts, done, total, detail);
      if (counts.total !== undefined) bar.setTotal(counts.total);
      bar.update(counts.done, { label, detail: counts.detail, ...describeTask(counts, state.now) });
    },
    finish() {
      if (finished) return;
      finished = true;
      // Logged before the removal, whose redraw flushes it above the remaining bars.
      state.log(
        `${label}: ${formatAmount(counts.done, counts.total, counts.unit)} in ${elapsedSince(counts, state.now)}`,
      );
      if (!state.stopped) bars.remove(bar);
      state.barCount--;
    },
  };
}

/** A task written as plain lines: after the quiet time, at every tenth, at least every interval, at the end. */
function createPlainTask(state: DisplayState, counts: TaskCounts): ProgressTask {
  const { now } = state;
  let lastLineTime = -Infinity;
  let nextTenth = 1;
  let finished = false;
  const writeLine = () => {
    const { amount, share, remaining } = describeTask(counts, now);
    const { label, detail } = counts;
    state.log(
      `${label}: ${amount}${share ? ` (${share})` : ''}, ${elapsedSince(counts, now)} elapsed${remaining ? `, ${remaining}` : ''}${detail ? ` ${detail}` : ''}`,
    );
    lastLineTime = now();
    if (counts.total) nextTenth = Math.floor((10 * counts.done) / counts.total) + 1;
  };
  const running = () => now() - counts.startTime >= state.quietMs;
  const beat = () => {
    if (running() && now() - lastLineTime >= state.intervalMs) writeLine();
  };
  state.active.add(beat);
  state.heartbeat ??= setInterval(
    () => {
      for (const check of state.active) check();
    },
    Math.min(state.intervalMs, 5000),
  ).unref();
  return {
    update(done, total, detail) {
      if (finished) return;
      applyUpdate(counts, done, total, detail);
      const complete = counts.total !== undefined && counts.done >= counts.total;
      if (running()) {
        const crossedTenth =
          counts.total !== undefined && counts.total > 0 && counts.done * 10 >= nextTenth * counts.total;
        if (
          lastLineTime === -Infinity ||
          complete ||
          crossedTenth ||
          now() - lastLineTime >= state.intervalMs
        )
          writeLine();
      }
      if (complete) {
        finished = true;
        state.active.delete(beat);
      }
    },
    finish() {
      if (finished) return;
      finished = true;
      state.active.delete(beat);
      if (lastLineTime !== -Infinity) writeLine();
    },
  };
}

function stopDisplay(state: DisplayState): void {
  if (state.heartbeat) clearInterval(state.heartbeat);
  state.heartbeat = undefined;
  state.active.clear();
  if (state.bars && !state.stopped) {
    state.bars.update(); // flushes lines logged since the last redraw
    state.bars.stop();
  }
  state.stopped = true;
}

/**
 * Progress of long steps on stderr: redrawing bars with an ETA on a terminal; on anything else (a log
 * file, a pipe, CI) plain lines, once a step has run for 10 s, at every tenth of the way and at least
 * every 30 s, each with the elapsed time and an ETA, so a log shows a run is alive and when it ends.
 */
export function createProgressDisplay(options: ProgressDisplayOptions = {}): ProgressDisplay {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? stream.isTTY === true;
  const intervalMs = options.intervalMs ?? defaultIntervalMs();
  const state: DisplayState = {
    bars: interactive ? createBars(stream) : undefined,
    barCount: 0,
    stopped: false,
    // The bars' own log is flushed on their next redraw; with no bar on screen a line goes out at once.
    log: (line) => {
      if (state.bars && state.barCount > 0 && !state.stopped) state.bars.log(`${line}\n`);
      else stream.write(`${line}\n`);
    },
    active: new Set(),
    heartbeat: undefined,
    intervalMs,
    quietMs: Math.min(options.quietMs ?? 10_000, intervalMs),
    now: options.now ?? Date.now,
  };
  return {
    log: state.log,
    stop: () => stopDisplay(state),
    task(label, taskOptions = {}) {
      const done = taskOptions.done ?? 0;
      const counts: TaskCounts = {
        label,
        unit: taskOptions.unit ?? '',
        done,
        total: taskOptions.total,
        detail: '',
        startDone: done,
        startTime: state.now(),
      };
      return state.bars ? createBarTask(state, counts, state.bars) : createPlainTask(state, counts);
    },
  };
}
