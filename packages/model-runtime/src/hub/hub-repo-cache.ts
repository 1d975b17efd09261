import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { writeFileAtomic } from '@traitlens/core';
import { isCommitSha } from './parse-model-source';

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * One model repo inside a Hugging Face cache, laid out exactly as Python's huggingface_hub does so both
 * share downloads:
 * ```
 * models--org--name/
 *   blobs/<etag>                 file contents, named by git blob sha1 (small files) or sha256 (LFS)
 *   blobs/<etag>.incomplete      a download in progress (resumed with a Range request)
 *   snapshots/<commit>/<file>    relative symlink to ../../blobs/<etag>
 *   refs/<branch or tag>         the commit sha the name pointed to at the last online resolution
 * ```
 */
export class HubRepoCache {
  readonly folder: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: string,
  ) {
    this.folder = join(cacheDir, `models--${repo.split('/').join('--')}`);
  }

  snapshotDirectory(commit: string): string {
    return join(this.folder, 'snapshots', commit);
  }

  blobPath(etag: string): string {
    return join(this.folder, 'blobs', etag);
  }

  /** The commit a branch or tag pointed to when last resolved online, or the revision itself when it is a sha. */
  async readRef(revision: string): Promise<string | undefined> {
    if (isCommitSha(revision)) return revision;
    try {
      const commit = (await readFile(join(this.folder, 'refs', revision), 'utf8')).trim();
      return isCommitSha(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  /** Python writes the bare sha with no newline; so does this, atomically. */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    await writeFileAtomic(join(this.folder, 'refs', revision), commit);
  }

  /** Names of the branches and tags the cache knows, for error messages. */
  async listRefs(): Promise<string[]> {
    try {
      return (await readdir(join(this.folder, 'refs'), { recursive: true, withFileTypes: true }))
        .filter((entry) => entry.isFile())
        .map((entry) =>
          relative(join(this.folder, 'refs'), join(entry.parentPath, entry.name)).split(sep).join('/'),
        );
    } catch {
      return [];
    }
  }

  /** True when the snapshot holds the file and its link is not dangling. */
  async hasSnapshotFile(commit: string, file: string): Promise<boolean> {
    return isFile(join(this.snapshotDirectory(commit), file));
  }

  async hasBlob(etag: string): Promise<boolean> {
    return isFile(this.blobPath(etag));
  }

  /**
   * Points snapshots/<commit>/<file> at the blob with a relative symlink (so the cache folder can move).
   * The link is made under a temporary name and renamed over, so a reader never sees a half-made entry.
   * Where symlinks are not allowed (Windows without developer mode), the blob is copied instead, as Python does.
   */
  async linkSnapshotFile(commit: string, file: string, etag: string): Promise<void> {
    const target = join(this.snapshotDirectory(commit), file);
    const blob = this.blobPath(etag);
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
    try {
      try {
        await symlink(relative(dirname(target), blob), temporary);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
        await copyFile(blob, temporary);
      }
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
