import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type FileLockOwner, removeStaleTemporaryFiles, withFileLock } from '@traitlens/core';

/** Options shared by the capture and replay stages for running beside other processes. */
export interface CaptureLockOptions {
  /**
   * How long to wait (ms) for another live process capturing the same prompts of the same variant before
   * failing with LOCK_HELD. Default 0: fail at once. Disjoint shards never wait for each other.
   */
  lockWaitMs?: number | undefined;
  /** Called when another process holds the lock and this stage starts waiting for it (`lockWaitMs` > 0). */
  onLockWait?: ((owner: FileLockOwner | undefined) => void) | undefined;
}

/** Which stage locks which prompts. */
export interface CaptureLockScope extends CaptureLockOptions {
  stage: 'capture' | 'replay';
  /** The variant's prompt-set folder (`inference/<variant>/<prompt_set>`). */
  root: string;
  promptIds: readonly string[];
  /** `<variant>/<prompt set>`, for the lock's purpose. */
  description: string;
}

/**
 * Runs a capture or replay stage under a lock named after the stage and the exact prompts it covers
 * (`<variant>/<prompt set>/.capture-<hash>.lock`): a second process on the same prompts refuses (or waits)
 * instead of doing the work twice, while shards (disjoint prompt subsets) run side by side. Inside the
 * lock, temporary files of killed runs are removed first.
 */
export async function withCaptureLock<T>(scope: CaptureLockScope, body: () => Promise<T>): Promise<T> {
  const { stage, root } = scope;
  const hash = createHash('sha256').update(JSON.stringify(scope.promptIds)).digest('hex').slice(0, 12);
  const lock = {
    purpose: `${stage} ${scope.description}`,
    waitMs: scope.lockWaitMs ?? 0,
    onWait: scope.onLockWait,
  };
  return withFileLock(join(root, `.${stage}-${hash}.lock`), lock, async () => {
    await removeStaleTemporaryFiles(root, { recursive: true });
    return body();
  });
}
