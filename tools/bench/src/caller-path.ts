import { isAbsolute, resolve } from 'node:path';

/**
 * Resolves a path the user typed against the directory they ran the command from. `pnpm --filter`
 * runs scripts inside the package folder, so `process.cwd()` there is tools/bench; pnpm and npm keep
 * the caller's directory in INIT_CWD.
 */
export function callerPath(path: string): string {
  if (isAbsolute(path)) return path;
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}
