// Child process for file-lock.test.ts. Modes:
//   hold <lock>: take the lock, print "held", keep it until killed or stdin closes.
//   count <lock> <counter file> <n>: n times, under the lock, read the counter, yield, write it + 1.
import { readFile, writeFile } from 'node:fs/promises';
import { acquireFileLock } from '../file-lock';

const [mode, lockPath, counterPath, times] = process.argv.slice(2);
if (lockPath === undefined) throw new Error('usage: lock-worker hold|count <lock> [counter n]');

if (mode === 'hold') {
  const lock = await acquireFileLock(lockPath, { purpose: 'test holder', waitMs: 60_000 });
  process.stdout.write('held\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    lock.release().then(() => process.exit(0));
  });
} else if (mode === 'count' && counterPath !== undefined) {
  for (let index = 0; index < Number(times); index += 1) {
    const lock = await acquireFileLock(lockPath, { purpose: 'test counter', waitMs: 120_000, pollMs: 5 });
    const value = Number(await readFile(counterPath, 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 1));
    await writeFile(counterPath, String(value + 1));
    await lock.release();
  }
}
