import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { HookSite } from '@traitlens/core';
import { type ExecutionProviderName, loadModel } from '@traitlens/model-runtime';
import { type DtypeConfig, findDtypeConfig } from './dtype-configs';

/** Where ORT put the nodes of one session's graph (from its verbose "Node placements" log). */
export interface SessionPlacement {
  /** What the session was created for: `forward`, `forward+capture+steer`, `generate`. */
  step: string;
  /** Nodes per execution provider (`WebGpuExecutionProvider`, `CPUExecutionProvider`, ...). */
  nodes: Record<string, number>;
  /** Op types ORT left on the CPU provider, with counts. */
  cpuOps: Record<string, number>;
  /** Copies ORT inserted between host and device memory inside the graph. */
  memcpyFromHost: number;
  memcpyToHost: number;
}

export interface PlacementReport {
  config: string;
  provider: ExecutionProviderName;
  sessions: SessionPlacement[];
  error?: string;
}

const stepMarker = 'GPU-CHECK-STEP ';

/**
 * Parses ORT's verbose session log: "Node placements", then per provider either "All nodes placed on
 * [EP]. Number of nodes: N" or "Node(s) placed on [EP]. Number of nodes: N" followed by one
 * "  OpType (node name)" line per node. Lines starting with GPU-CHECK-STEP name the step that follows.
 */
export function parsePlacementLog(log: string): SessionPlacement[] {
  const sessions: SessionPlacement[] = [];
  let step = 'session';
  let current: SessionPlacement | undefined;
  let provider: string | undefined;
  for (const line of log.split('\n')) {
    if (line.startsWith(stepMarker)) {
      step = line.slice(stepMarker.length).trim();
      continue;
    }
    if (/VerifyEachNodeIsAssignedToAnEp\] Node placements/.test(line)) {
      current = { step, nodes: {}, cpuOps: {}, memcpyFromHost: 0, memcpyToHost: 0 };
      sessions.push(current);
      provider = undefined;
      continue;
    }
    const header = line.match(/(?:Node\(s\)|All nodes) placed on \[(\w+)\]\. Number of nodes: (\d+)/);
    if (header && current) {
      provider = header[1]!;
      current.nodes[provider] = Number(header[2]);
      continue;
    }
    const node = line.match(/VerifyEachNodeIsAssignedToAnEp\]\s{2,}(\S+) \(/);
    if (node && current && provider) {
      const op = node[1]!;
      if (op === 'MemcpyFromHost') current.memcpyFromHost++;
      if (op === 'MemcpyToHost') current.memcpyToHost++;
      if (provider === 'CPUExecutionProvider') current.cpuOps[op] = (current.cpuOps[op] ?? 0) + 1;
    }
  }
  return sessions;
}

/**
 * The child side: loads the `llama` parity model with `debug: { logPlacement: true }` (ORT then logs
 * each session's placement to stderr) and creates the sessions a study uses: a plain forward pass, one
 * capturing every hook site with steering, and generation.
 */
export async function placementChild(options: {
  provider: ExecutionProviderName;
  config: string;
  fixturesDirectory: string;
  cacheDirectory: string;
}): Promise<void> {
  const config = findDtypeConfig(options.config);
  if (!config) throw new Error(`unknown dtype config ${options.config}`);
  const fixture = join(options.fixturesDirectory, 'parity/llama');
  const model = await loadModel(join(fixture, 'model'), {
    cacheDirectory: options.cacheDirectory,
    providers: [options.provider],
    ...config.options,
    maxSessions: 8,
    debug: { logPlacement: true },
  });
  const ids = [[304, 72, 101, 108, 108, 111]];
  const sites: HookSite[] = ['resid_pre', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'];
  const mark = (step: string) => process.stderr.write(`\n${stepMarker}${step}\n`);
  mark('forward');
  await model.forward(ids, { logits: 'last' });
  mark('forward+capture+steer');
  await model.forward(ids, {
    capture: sites.flatMap((site) => [0, 1].map((layer) => ({ layer, site }))),
    steer: [
      {
        point: { layer: 0, site: 'resid_post' },
        mode: 'add',
        vector: new Float32Array(model.config.hiddenSize).fill(0.1),
        coefficient: 1,
        positions: 'all',
      },
    ],
  });
  mark('generate');
  await model.generate(ids, { maxNewTokens: 3, stopTokenIds: [] });
  await model.dispose();
}

/**
 * Runs `placementChild` in a child process (ORT's verbose log goes to the process's stderr, which only
 * a parent can read) and summarises where each session's nodes went.
 */
export function inspectPlacement(options: {
  provider: ExecutionProviderName;
  config: DtypeConfig;
  fixturesDirectory: string;
  cacheDirectory: string;
  /** The command line that starts this tool: [node, ...execArgv, script]. */
  command: readonly string[];
}): PlacementReport {
  const [executable, ...prefix] = options.command;
  // The child's log level comes from logPlacement alone, whatever the parent's TRAITLENS_ORT_LOG says.
  const { TRAITLENS_ORT_LOG: _ignored, ...env } = process.env;
  const child = spawnSync(
    executable!,
    [
      ...prefix,
      '--placement-child',
      '--providers',
      options.provider,
      '--dtypes',
      options.config.name,
      '--fixtures',
      options.fixturesDirectory,
      '--cache',
      options.cacheDirectory,
    ],
    { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, env },
  );
  const sessions = parsePlacementLog(`${child.stdout}\n${child.stderr}`);
  const report: PlacementReport = { config: options.config.name, provider: options.provider, sessions };
  if (child.status !== 0) {
    const lines = `${child.stderr}`.split('\n').filter((line) => /error|Error/.test(line));
    report.error = (lines.at(-1) ?? `exit ${child.status ?? child.signal}`).slice(0, 500);
  }
  return report;
}
