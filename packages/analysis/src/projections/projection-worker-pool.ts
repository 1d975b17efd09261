import { Worker } from 'node:worker_threads';
import { TraitlensError } from '@traitlens/core';
import { getFloat16Table } from './float16-table';
import {
  assertTensorsFitBank,
  getPaddedVectors,
  projectRows,
  type TokenProjections,
} from './project-token-activations';
import type { ActivationTensors } from './read-activation-tensors';
import type { VectorBank } from './vector-bank';

/**
 * The worker's script. It is plain JavaScript evaluated as a CommonJS worker (no module resolution, so it
 * runs from source under a test runner and from the built package alike); the kernel is the very same
 * `projectRows` the main thread uses, shipped as source text (it references nothing outside itself).
 */
function workerSource(): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
const projectRows = (${projectRows.toString()});
const float16 = workerData.float16Table;
const banks = new Map();
let scratch = new Float32Array(0);
parentPort.on('message', (message) => {
  if (message.type === 'bank') {
    banks.set(message.bankId, { unitVectors: message.unitVectors, unitRows: message.unitRows });
    return;
  }
  try {
    const bank = banks.get(message.bankId);
    const { tokenCount, width, vectorCount, wantMean } = message;
    const elements = tokenCount * width;
    if (scratch.length < elements) scratch = new Float32Array(elements);
    const dots = new Float32Array(message.layers.length * vectorCount * tokenCount);
    const norms = new Float32Array(message.layers.length * tokenCount);
    const means = [];
    message.layers.forEach((layer, position) => {
      let rows;
      if (layer.dtype === 'F32') {
        rows = new Float32Array(layer.buffer, layer.byteOffset, elements);
      } else {
        const bits = new Uint16Array(layer.buffer, layer.byteOffset, elements);
        rows = scratch.subarray(0, elements);
        if (layer.dtype === 'F16') {
          for (let i = 0; i < elements; i++) rows[i] = float16[bits[i]];
        } else {
          const out = new Uint32Array(rows.buffer, rows.byteOffset, elements);
          for (let i = 0; i < elements; i++) out[i] = bits[i] << 16;
        }
      }
      const rowSum = wantMean ? new Float64Array(width) : undefined;
      projectRows(rows, tokenCount, width, bank.unitVectors[position], bank.unitRows, vectorCount, dots, position * vectorCount * tokenCount, norms, position * tokenCount, rowSum);
      if (rowSum) {
        if (tokenCount > 0) for (let j = 0; j < width; j++) rowSum[j] /= tokenCount;
        means.push(rowSum);
      }
    });
    parentPort.postMessage({ id: message.id, dots, norms, means: wantMean ? means : undefined }, [dots.buffer, norms.buffer, ...means.map((m) => m.buffer)]);
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.stack || error) });
  }
});
`;
}

interface PendingJob {
  resolve: (value: { dots: Float32Array; norms: Float32Array; means?: Float64Array[] }) => void;
  reject: (error: unknown) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, PendingJob>;
  banks: Set<number>;
}

/**
 * Worker threads that decode and project activation tensors, so projection uses every core while the
 * main thread reads files and aggregates. Results are identical to `projectTokenActivations`.
 */
export class ProjectionWorkerPool {
  private nextJob = 0;
  private readonly bankIds = new WeakMap<VectorBank, number>();
  private nextBank = 0;

  private constructor(private readonly workers: PoolWorker[]) {}

  static create(size: number): ProjectionWorkerPool {
    const source = workerSource();
    const float16Table = getFloat16Table();
    const workers: PoolWorker[] = [];
    for (let i = 0; i < size; i++) {
      const worker = new Worker(source, { eval: true, workerData: { float16Table } });
      const entry: PoolWorker = { worker, pending: new Map(), banks: new Set() };
      worker.on(
        'message',
        (message: {
          id: number;
          dots?: Float32Array;
          norms?: Float32Array;
          means?: Float64Array[];
          error?: string;
        }) => {
          const job = entry.pending.get(message.id);
          if (!job) return;
          entry.pending.delete(message.id);
          if (message.error !== undefined)
            job.reject(new TraitlensError('RUNTIME_ERROR', `A projection worker failed: ${message.error}`));
          else
            job.resolve({
              dots: message.dots!,
              norms: message.norms!,
              ...(message.means ? { means: message.means } : {}),
            });
        },
      );
      worker.on('error', (error) => {
        for (const job of entry.pending.values()) job.reject(error);
        entry.pending.clear();
      });
      // An idle pool must not keep the process alive.
      worker.unref();
      workers.push(entry);
    }
    return new ProjectionWorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Like `projectTokenActivations`, on the least busy worker. The tensors' bytes are handed over (transferred). */
  async project(
    tensors: ActivationTensors,
    bank: VectorBank,
    options: { meanActivations?: boolean } = {},
  ): Promise<TokenProjections> {
    assertTensorsFitBank(tensors, bank);
    let bankId = this.bankIds.get(bank);
    if (bankId === undefined) {
      bankId = this.nextBank++;
      this.bankIds.set(bank, bankId);
    }
    const target = this.workers.reduce((best, entry) =>
      entry.pending.size < best.pending.size ? entry : best,
    );
    if (!target.banks.has(bankId)) {
      const padded = getPaddedVectors(bank);
      target.worker.postMessage({
        type: 'bank',
        bankId,
        unitVectors: padded.unitVectors,
        unitRows: padded.rows,
      });
      target.banks.add(bankId);
    }
    const id = this.nextJob++;
    const tokenCount = tensors.tokenIds.length;
    const layers = tensors.layers.map((layer) => ({
      dtype: layer.dtype,
      buffer: layer.bytes.buffer,
      byteOffset: layer.bytes.byteOffset,
    }));
    const result = await new Promise<{ dots: Float32Array; norms: Float32Array; means?: Float64Array[] }>(
      (resolve, reject) => {
        target.pending.set(id, { resolve, reject });
        target.worker.ref();
        target.worker.postMessage(
          {
            type: 'project',
            id,
            bankId,
            tokenCount,
            width: bank.hiddenSize,
            vectorCount: bank.vectors.length,
            wantMean: Boolean(options.meanActivations),
            layers,
          },
          [...new Set(layers.map((layer) => layer.buffer as ArrayBuffer))],
        );
      },
    ).finally(() => {
      if (target.pending.size === 0) target.worker.unref();
    });
    const projections: TokenProjections = {
      promptId: tensors.promptId,
      tokenCount,
      tokenIds: tensors.tokenIds,
      layers: bank.layers,
      vectorCount: bank.vectors.length,
      dots: result.dots,
      norms: result.norms,
    };
    if (result.means) projections.meanActivations = result.means;
    return projections;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((entry) => entry.worker.terminate()));
  }
}
