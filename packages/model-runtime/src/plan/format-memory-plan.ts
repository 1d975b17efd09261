import type { MemoryPlan } from './plan-memory';

/** Bytes in decimal units (as model pages and `80GB` cards state them): `141.11 GB`. */
export function formatBytes(bytes: number): string {
  const steps: [number, string][] = [
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'kB'],
  ];
  for (const [size, unit] of steps)
    if (Math.abs(bytes) >= size) return `${(bytes / size).toFixed(2)} ${unit}`;
  return `${bytes} B`;
}

/** Whether a plan fits a device, with what is left over. */
export interface MemoryPlanFit {
  deviceBytes: number;
  fits: boolean;
  /** Negative when it does not fit. */
  freeBytes: number;
  /** Fraction of the device the plan uses. */
  usage: number;
}

/** Compares a plan's total with a device's memory. */
export function assessMemoryFit(plan: MemoryPlan, deviceBytes: number): MemoryPlanFit {
  return {
    deviceBytes,
    fits: plan.total <= deviceBytes,
    freeBytes: deviceBytes - plan.total,
    usage: plan.total / deviceBytes,
  };
}

/**
 * Fraction of device memory above which a plan that "fits" is called tight: CUDA context, ORT's arena
 * rounding and fragmentation usually take several percent.
 */
const tightUsage = 0.9;

/** The plan as an aligned text table, with a verdict when the device memory is given. */
export function formatMemoryPlan(plan: MemoryPlan, deviceBytes?: number): string {
  const { config, settings } = plan;
  const lines: string[] = [];
  const name = config.architecture ?? 'model';
  lines.push(
    `${name}: ${config.layerCount} layers, hidden ${config.hiddenSize}, intermediate ${config.intermediateSize}, ${config.headCount} heads / ${config.kvHeadCount} KV heads x ${config.headDim}, vocab ${config.vocabSize}${config.tieWordEmbeddings ? ', tied embeddings' : ''}`,
  );
  lines.push(
    `batch ${settings.batchSize} x ${settings.sequenceLength} tokens, weights ${settings.dtype}, activations ${settings.activationDtype}, KV cache ${settings.kvDtype}`,
  );
  lines.push('');
  const table = plan.rows.map((row) => ({
    label: row.partOf ? `  ${row.label}` : row.label,
    detail: row.detail,
    size: formatBytes(row.bytes),
  }));
  table.push({
    label: 'total',
    detail: `${(plan.total / 2 ** 30).toFixed(2)} GiB`,
    size: formatBytes(plan.total),
  });
  const labelWidth = Math.max(...table.map((row) => row.label.length));
  const sizeWidth = Math.max(...table.map((row) => row.size.length));
  const detailWidth = Math.max(...table.map((row) => row.detail.length));
  for (const [index, row] of table.entries()) {
    if (index === table.length - 1) lines.push('-'.repeat(labelWidth + sizeWidth + detailWidth + 4));
    lines.push(`${row.label.padEnd(labelWidth)}  ${row.size.padStart(sizeWidth)}  ${row.detail}`);
  }
  if (deviceBytes !== undefined) {
    const fit = assessMemoryFit(plan, deviceBytes);
    const percent = `${(fit.usage * 100).toFixed(0)}%`;
    lines.push('');
    if (!fit.fits) {
      lines.push(
        `does NOT fit in ${formatBytes(deviceBytes)}: ${formatBytes(-fit.freeBytes)} over (${percent}). Try a smaller dtype (int4), a smaller batch or sequence, --logits last, or fewer captured layers.`,
      );
    } else if (fit.usage > tightUsage) {
      lines.push(
        `fits in ${formatBytes(deviceBytes)} but tight: ${percent} used, ${formatBytes(fit.freeBytes)} left for the runtime's own buffers; expect out-of-memory errors.`,
      );
    } else {
      lines.push(`fits in ${formatBytes(deviceBytes)}: ${percent} used, ${formatBytes(fit.freeBytes)} free.`);
    }
  }
  return lines.join('\n');
}
