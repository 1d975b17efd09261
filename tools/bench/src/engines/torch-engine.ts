import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { BenchEngine } from './bench-engine';

/**
 * The PyTorch eager baseline (tools/bench/torch_eager_bench.py) as a served subprocess, so it takes
 * turns with the other engines case by case. Started as a PyTorch user on this machine gets the most
 * from it: without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they force OpenBLAS's AVX2 kernels), with
 * OPENBLAS_NUM_THREADS = threads; the script picks torch's own thread count by timing both.
 */
export async function torchEngine(options: {
  python: string;
  script: string;
  modelDirectory: string;
  inputsPath: string;
  threads: number;
  decodeSteps: number;
}): Promise<BenchEngine> {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(options.threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const child: ChildProcessWithoutNullStreams = spawn(
    options.python,
    [
      options.script,
      '--model',
      options.modelDirectory,
      '--threads',
      String(options.threads),
      '--inputs',
      options.inputsPath,
      '--decode-steps',
      String(options.decodeSteps),
    ],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${options.script} exited with code ${code}`))),
  );
  exited.catch(() => undefined);
  const nextMessage = async (): Promise<Record<string, unknown>> => {
    const line = await Promise.race([lines.next(), exited]);
    if (line.done) throw new Error(`${options.script} closed its output`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  const ready = (await nextMessage()).ready as Record<string, unknown> & { cases: string[] };
  return {
    name: 'PyTorch eager',
    configuration: ready,
    cases: ready.cases,
    run: async (caseName) => {
      child.stdin.write(`${JSON.stringify({ case: caseName })}\n`);
      const reply = await nextMessage();
      if (reply.error) throw new Error(`PyTorch baseline: ${String(reply.error)} (${caseName})`);
      return reply.value as number;
    },
    dispose: async () => {
      child.stdin.end();
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
