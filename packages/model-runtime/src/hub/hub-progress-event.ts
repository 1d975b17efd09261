/** What resolveModelSource reports while it works, for progress bars and logs. */
export type HubProgressEvent =
  /** A branch or tag was resolved to the commit sha whose snapshot is used. */
  | { type: 'revision-resolved'; repo: string; revision: string; commit: string; fromCache: boolean }
  /** A file starts downloading; `resumedFromBytes` > 0 when a partial download is continued. */
  | { type: 'file-start'; repo: string; file: string; totalBytes: number; resumedFromBytes: number }
  | { type: 'file-progress'; repo: string; file: string; bytes: number; totalBytes: number }
  /** A file is verified and in the cache (`cached`: it was there already and nothing was downloaded). */
  | { type: 'file-done'; repo: string; file: string; totalBytes: number; cached: boolean }
  | {
      type: 'retry';
      repo: string;
      file: string | undefined;
      attempt: number;
      delayMs: number;
      reason: string;
    }
  /** The Hub could not be reached, so the cached snapshot is used as it is. */
  | { type: 'cache-fallback'; repo: string; revision: string; commit: string; reason: string };
