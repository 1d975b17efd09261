import type { GpuCheckReport, ProviderCheck } from './run-gpu-check';

const exponent = (value: number | undefined) =>
  value === undefined ? '—' : Number.isFinite(value) ? value.toExponential(1) : String(value);

function bytes(value: number | undefined): string {
  if (value === undefined) return 'n/a';
  if (value >= 2 ** 20) return `${(value / 2 ** 20).toFixed(2)} MiB`;
  if (value >= 2 ** 10) return `${(value / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(value)} B`;
}

function paritySection(check: ProviderCheck): string[] {
  const lines: string[] = [];
  lines.push(
    '| dtype | tolerance | cases passed | worst logits | worst captures | worst greedy log-prob | greedy ids = float64 | errors |',
  );
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const config of check.configs) {
    if (!config.ran) {
      lines.push(`| ${config.name} | ${config.tolerance} | skipped: ${config.reason} | | | | | |`);
      continue;
    }
    const results = check.parity.filter((result) => result.config === config.name);
    const worst = (key: 'logitsError' | 'capturesError' | 'logprobError') => {
      const values = results
        .map((result) => result[key])
        .filter((value): value is number => value !== undefined);
      return values.length ? Math.max(...values) : undefined;
    };
    const greedy = results.filter((result) => result.kind === 'greedy' && !result.error);
    lines.push(
      `| ${config.name} | ${config.tolerance} | ${results.filter((r) => r.pass).length}/${results.length} | ${exponent(worst('logitsError'))} | ${exponent(worst('capturesError'))} | ${exponent(worst('logprobError'))} | ${greedy.filter((r) => r.greedyIdsEqual).length}/${greedy.length} | ${results.filter((r) => r.error).length} |`,
    );
  }
  return lines;
}

function caseSection(check: ProviderCheck): string[] {
  const lines = [
    '| dtype | fixture | case | logits | captures | greedy log-prob | ids | result |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const result of check.parity) {
    lines.push(
      `| ${result.config} | ${result.folder} | ${result.case} | ${exponent(result.logitsError)} | ${exponent(result.capturesError)} | ${exponent(result.logprobError)} | ${result.greedyIdsEqual === undefined ? '' : result.greedyIdsEqual ? 'same' : 'differ'} | ${result.error ? `error: ${result.error.replaceAll('|', '/').slice(0, 160)}` : result.pass ? 'ok' : '**FAIL**'} |`,
    );
  }
  return lines;
}

/** The report as markdown: device, parity per dtype (and per case), decode benchmark, op placement. */
export function formatReport(report: GpuCheckReport): string {
  const lines: string[] = [];
  lines.push(`# traitlens gpu:check`, '');
  lines.push(
    `${report.startedAt} · node ${report.node} · onnxruntime-node ${report.onnxruntime} · ${report.platform}${report.vulkanDriver ? ` · Vulkan driver ${report.vulkanDriver}` : ''}`,
  );
  lines.push(
    '',
    `**${report.summary.passed}/${report.summary.cases} parity cases passed**${report.summary.skippedConfigs ? `, ${report.summary.skippedConfigs} dtype configs skipped` : ''}${report.summary.unavailableProviders.length ? `; **unavailable: ${report.summary.unavailableProviders.join(', ')}**` : ''}.`,
  );
  for (const check of report.checks) {
    lines.push('', `## ${check.provider}`, '');
    const device = check.device;
    lines.push(
      device.available
        ? `Device probe: available; fp16 arithmetic (shader-f16 on WebGPU): ${device.float16 ? 'yes' : 'no'}.`
        : `Device probe: **unavailable** — ${device.failures.join('; ')}`,
    );
    lines.push(
      '',
      '### Parity against the float64 fixtures',
      '',
      'Max abs error over logits, every hook site at every layer, and greedy log-probabilities, per dtype (tolerance: see tools/gpu-check/README.md). Cases: each architecture fixture (padded batch, HF left-padded batch, add/ablate steering, greedy + steered greedy through the KV cache) and a switchable LoRA at loraScale 1, 0 and per row.',
      '',
    );
    lines.push(...paritySection(check));
    const decode = check.decode;
    if (decode.length) {
      lines.push('', '### Decode benchmark', '');
      if (report.softwareVulkan && check.provider === 'webgpu')
        lines.push(
          '> WebGPU ran on SwiftShader, a CPU implementation of Vulkan: tok/s here says nothing about GPU speed. The bytes per step are what a GPU would move too.',
          '',
        );
      lines.push(
        '| dtype | model | batch x prompt + steps | decode tok/s (median, min) | host→device per step | device→host per step | KV cache on device | KV cache size |',
        '|---|---|---|---|---|---|---|---|',
      );
      for (const result of decode) {
        lines.push(
          `| ${result.config} | ${result.model} | ${result.batch} x ${result.promptTokens} + ${result.steps} | ${result.error ? `error: ${result.error.slice(0, 120)}` : `${result.tokensPerSecond!.median.toFixed(1)} (${result.tokensPerSecond!.min.toFixed(1)})`} | ${bytes(result.hostToDeviceBytesPerStep)} | ${bytes(result.deviceToHostBytesPerStep)} | ${result.kvCacheOnDevice === undefined ? 'n/a' : result.kvCacheOnDevice ? 'yes' : 'no'} | ${bytes(result.kvCacheBytes)} |`,
        );
      }
      if (decode.some((result) => !result.error && result.hostToDeviceBytesPerStep === undefined))
        lines.push('', 'n/a: this model-runtime has no host<->device transfer counter.');
    }
    if (check.placement.length) {
      lines.push(
        '',
        '### Op placement (ORT verbose log, llama fixture)',
        '',
        'One row per session created; a step without a row (often `generate`) reused an earlier session.',
        '',
      );
      lines.push(
        '| dtype | session | nodes per provider | CPU ops | MemcpyFromHost | MemcpyToHost |',
        '|---|---|---|---|---|---|',
      );
      for (const placement of check.placement) {
        if (placement.error && placement.sessions.length === 0)
          lines.push(`| ${placement.config} | error: ${placement.error.slice(0, 160)} | | | | |`);
        for (const session of placement.sessions)
          lines.push(
            `| ${placement.config} | ${session.step} | ${Object.entries(session.nodes)
              .map(([provider, count]) => `${provider.replace('ExecutionProvider', '')} ${count}`)
              .join(', ')} | ${
              Object.entries(session.cpuOps)
                .map(([op, count]) => `${op} ${count}`)
                .join(', ') || '—'
            } | ${session.memcpyFromHost} | ${session.memcpyToHost} |`,
          );
      }
    }
    if (check.parity.length)
      lines.push('', '<details><summary>Every case</summary>', '', ...caseSection(check), '', '</details>');
  }
  return `${lines.join('\n')}\n`;
}
