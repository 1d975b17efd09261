import { Worker } from 'node:worker_threads';
import { TraitlensError } from '@traitlens/core';
import { simdDotKernelsWasm } from '@traitlens/core/internal';
import {
  assertTensorsFitBank,
  getPaddedVectors,
  type RandomSummaryRequest,
  type TokenProjections,
} from './project-token-activations';
import type { RandomDirections } from './random-directions';
import type { ActivationTensors } from './read-activation-tensors';
import { simdProjectLayerSource } from './simd-project-layer';
import type { VectorBank } from './vector-bank';

/**
 * The worker's script. It is plain JavaScript evaluated as a CommonJS worker (no module resolution, so it
 * runs from source under a test runner and from the built package alike); the kernel is the very same
 * `simdProjectLayer` the main thread uses (over the wasm module of @traitlens/core, handed over as bytes),
 * shipped as source text with its steps (they reference nothing outside themselves).
 */
function workerSource(): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
const simdProjectLayer = ${simdProjectLayerSource()};
const state = { kernels: new WebAssembly.Instance(new WebAssembly.Module(workerData.wasm), {}).exports };
const directionSets = new Map();
const banks = new Map();
parentPort.on('message', (message) => {
  if (message.type === 'bank') {
    banks.set(message.bankId, { unitVectors: message.unitVectors, unitRows: message.unitRows });
    return;
  }
  if (message.type === 'directions') {
    directionSets.set(message.directionsId, message.directions);
    return;
  }
  try {
    const bank = banks.get(message.bankId);
    const { tokenCount, width, vectorCount, wantMean } = message;
    const elements = tokenCount * width;
    const dots = new Float32Array(message.layers.length * vectorCount * tokenCount);
    const norms = new Float32Array(message.layers.length * tokenCount);
    const means = [];
    const random = message.random;
    const directions = random ? directionSets.get(random.directionsId) : undefined;
    const randomDots = random ? new Float32Array(message.layers.length * directions.count) : undefined;
    const summaryRows = random ? new Float32Array(message.layers.length * width) : undefined;
    message.layers.forEach((layer, position) => {
      const size = layer.dtype === 'F32' ? 4 : 2;
      const rowSum = wantMean ? new Float64Array(width) : undefined;
      const request = {
        bank: message.bankId,
        unitVectors: bank.unitVectors,
        position,
        dtype: layer.dtype,
        bytes: new Uint8Array(layer.buffer, layer.byteOffset, elements * size),
        tokenCount,
        width,
        vectorCount,
        dots,
        dotsOffset: position * vectorCount * tokenCount,
        norms,
        normsOffset: position * tokenCount,
      };
      if (rowSum) request.rowSum = rowSum;
      if (random) {
        const map = directions.layerMaps[position];
        request.random = { directions: random.directionsId, unitVectors: directions.unitVectors, count: directions.count, permutation: map.permutation, signs: map.signs, start: random.start, end: random.end, normalise: random.normalise, rows: summaryRows, flush: position === message.layers.length - 1, out: randomDots };
      }
      simdProjectLayer(state, request);
      if (rowSum) {
        if (tokenCount > 0) for (let j = 0; j < width; j++) rowSum[j] /= tokenCount;
        means.push(rowSum);
      }
    });
    parentPort.postMessage({ id: message.id, dots, norms, means: wantMean ? means : undefined, randomDots }, [dots.buffer, norms.buffer, ...means.map((m) => m.buffer), ...(randomDots ? [randomDots.buffer] : [])]);
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.stack || error) });
  }
});
`;
}

interface WorkerResult {
  dots: Float32Array;
  norms: Float32Array;
  means?: Float64Array[];
  randomDots?: Float32Array;
}

interface PendingJob {
  resolve: (value: WorkerResult) => void;
  reject: (error: unknown) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, PendingJob>;
  banks: Set<number>;
  directions: Set<number>;
}

/**
 * Worker threads that decode and project activation tensors, so projection uses every core while the
 * main thread reads files and aggregates. Results are identical to `projectTokenActivations`.
 */
export class ProjectionWorkerPool {
  private nextJob = 0;
  private readonly bankIds = new WeakMap<VectorBank, number>();
  private nextBank = 0;
  private readonly directionIds = new WeakMap<RandomDirections, number>();
  private nextDirections = 0;

  private constructor(private readonly workers: PoolWorker[]) {}

  static create(size: number): ProjectionWorkerPool {
    const source = workerSource();
    const wasm = simdDotKernelsWasm();
    const workers: PoolWorker[] = [];
    for (let i = 0; i < size; i++) {
      const worker = new Worker(source, { eval: true, workerData: { wasm } });
      const entry: PoolWorker = { worker, pending: new Map(), banks: new Set(), directions: new Set() };
      worker.on(
        'message',
        (message: {
          id: number;
          dots?: Float32Array;
          norms?: Float32Array;
          means?: Float64Array[];
          randomDots?: Float32Array;
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
              ...(message.randomDots ? { randomDots: message.randomDots } : {}),
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
    options: { meanActivations?: boolean | undefined; random?: RandomSummaryRequest | undefined } = {},
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
    let random: { directionsId: number; start: number; end: number; normalise: boolean } | undefined;
    if (options.random) {
      const directions = options.random.directions;
      let directionsId = this.directionIds.get(directions);
      if (directionsId === undefined) {
        directionsId = this.nextDirections++;
        this.directionIds.set(directions, directionsId);
      }
      if (!target.directions.has(directionsId)) {
        target.worker.postMessage({
          type: 'directions',
          directionsId,
          directions: {
            unitVectors: directions.unitVectors,
            rows: directions.rows,
            count: directions.count,
            layerMaps: directions.layerMaps,
          },
        });
        target.directions.add(directionsId);
      }
      const { start, end, normalise } = options.random;
      random = { directionsId, start, end, normalise };
    }
    const id = this.nextJob++;
    const tokenCount = tensors.tokenIds.length;
    const layers = tensors.layers.map((layer) => ({
      dtype: layer.dtype,
      buffer: layer.bytes.buffer,
      byteOffset: layer.bytes.byteOffset,
    }));
    const result = await new Promise<WorkerResult>((resolve, reject) => {
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
          random,
          layers,
        },
        [...new Set(layers.map((layer) => layer.buffer as ArrayBuffer))],
      );
    }).finally(() => {
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
    if (result.randomDots) projections.randomDots = result.randomDots;
    return projections;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((entry) => entry.worker.terminate()));
  }
}
