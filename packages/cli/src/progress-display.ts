import cliProgress from 'cli-progress';

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

/**
 * Progress of long steps on stderr: redrawing bars with an ETA on a terminal; on anything else (a log
 * file, a pipe, CI) plain lines, once a step has run for 10 s, at every tenth of the way and at least
 * every 30 s, each with the elapsed time and an ETA, so a log shows a run is alive and when it ends.
 */
export function createProgressDisplay(options: ProgressDisplayOptions = {}): ProgressDisplay {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? stream.isTTY === true;
  const intervalMs = options.intervalMs ?? defaultIntervalMs();
  const quietMs = Math.min(options.quietMs ?? 10_000, intervalMs);
  const now = options.now ?? Date.now;
  const bars = interactive
    ? new cliProgress.MultiBar(
        {
          stream: stream as NodeJS.WritableStream,
          clearOnComplete: false,
          hideCursor: true,
          // Own payload names: cli-progress fills its built-in {eta} and {percentage} itself.
          format: '{label} |{bar}| {amount} {share} {remaining} {detail}',
          autopadding: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let barCount = 0;
  let stopped = false;
  // The bars' own log is flushed on their next redraw; with no bar on screen a line goes out at once.
  const log = (line: string) => {
    if (bars && barCount > 0 && !stopped) bars.log(`${line}\n`);
    else stream.write(`${line}\n`);
  };

  // Plain mode: a heartbeat writes a line for a task that has gone quiet (one long batch), so a log
  // never stays silent for more than the interval while work runs.
  const active = new Set<() => void>();
  let heartbeat: NodeJS.Timeout | undefined;

  return {
    log,
    stop: () => {
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = undefined;
      active.clear();
      if (bars && !stopped) {
        bars.update(); // flushes lines logged since the last redraw
        bars.stop();
      }
      stopped = true;
    },
    task(label, taskOptions = {}) {
      const unit = taskOptions.unit ?? '';
      let total = taskOptions.total;
      let done = taskOptions.done ?? 0;
      let detail = '';
      const startDone = done;
      const startTime = now();
      let lastLineTime = -Infinity;
      let nextTenth = 1;
      let finished = false;
      const etaSeconds = (): number | undefined => {
        // No estimate from nothing: before a second has passed the rate is noise.
        if (total === undefined || done <= startDone || now() - startTime < 1000) return undefined;
        const rate = (done - startDone) / (now() - startTime);
        return (total - done) / rate / 1000;
      };
      const describe = () => {
        const percent = total ? `${Math.floor((100 * done) / total)}%` : '';
        const eta = etaSeconds();
        return {
          amount: formatAmount(done, total, unit),
          share: percent,
          remaining: done >= (total ?? Infinity) ? '' : eta === undefined ? '' : `ETA ${formatDuration(eta)}`,
        };
      };
      const bar = bars?.create(total ?? 0, done, { label, detail: '', ...describe() });
      if (bar) barCount++;
      const elapsed = () => formatDuration((now() - startTime) / 1000);
      const writeLine = () => {
        const { amount, share, remaining } = describe();
        log(
          `${label}: ${amount}${share ? ` (${share})` : ''}, ${elapsed()} elapsed${remaining ? `, ${remaining}` : ''}${detail ? ` ${detail}` : ''}`,
        );
        lastLineTime = now();
        if (total) nextTenth = Math.floor((10 * done) / total) + 1;
      };
      const beat = () => {
        if (now() - startTime >= quietMs && now() - lastLineTime >= intervalMs) writeLine();
      };
      const finish = () => {
        if (finished) return;
        finished = true;
        active.delete(beat);
        if (bar) {
          // Logged before the removal, whose redraw flushes it above the remaining bars.
          log(`${label}: ${formatAmount(done, total, unit)} in ${elapsed()}`);
          if (!stopped) bars?.remove(bar);
          barCount--;
        } else if (lastLineTime !== -Infinity) {
          writeLine();
        }
      };
      if (!bars) {
        active.add(beat);
        heartbeat ??= setInterval(
          () => {
            for (const check of active) check();
          },
          Math.min(intervalMs, 5000),
        ).unref();
      }
      return {
        update(newDone, newTotal, newDetail) {
          if (finished) return;
          done = newDone;
          if (newTotal !== undefined) total = newTotal;
          if (newDetail !== undefined) detail = newDetail;
          if (bar) {
            if (total !== undefined) bar.setTotal(total);
            bar.update(done, { label, detail, ...describe() });
            return;
          }
          const complete = total !== undefined && done >= total;
          if (now() - startTime >= quietMs) {
            const crossedTenth = total !== undefined && total > 0 && done * 10 >= nextTenth * total;
            if (lastLineTime === -Infinity || complete || crossedTenth || now() - lastLineTime >= intervalMs)
              writeLine();
          }
          if (complete) {
            finished = true;
            active.delete(beat);
          }
        },
        finish,
      };
    },
  };
}
