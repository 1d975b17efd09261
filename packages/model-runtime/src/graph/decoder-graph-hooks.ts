import { formatHookPoint, type HookPoint, type HookSite, hookSites } from '@traitlens/core';
import {
  everySiteSteeringOrder,
  type HookPlan,
  projectionNames,
  type SteeringMode,
  steeringInputNames,
  steeringSiteIndex,
  steeringSlotNames,
} from '../hooks/hook-plan';
import type { DecoderGraphBase } from './decoder-graph-base';
import { OnnxType } from './onnx-graph-builder';

/** Applies the plan's steering at a point, then exposes the (steered) value if captured or projected. */
export type DecoderHook = (value: string, layer: number, site: HookSite) => string;

/** The constants the hooks share with the rest of the graph. */
export interface HookShapes {
  /** [-1]: the last axis. */
  lastAxis: string;
  /** [-1, 1]: a per-token column. */
  coefficientShape: string;
}

/** Every-site steering inputs of one mode (see `steeringSlotNames`). */
interface SlotTable {
  vectors: string;
  coefficients: string;
  slots: string;
}

/** What a hook needs besides the value: the plan's points and the shared constants. */
interface HookContext {
  base: DecoderGraphBase;
  shapes: HookShapes;
  slotTables: Partial<Record<SteeringMode, SlotTable>> | undefined;
  steer: HookPlan['steer'];
  captured: Set<string>;
  projected: Set<string>;
}

/**
 * The hook of the plan. With `steerEverySite`, declares the slot-table inputs (per mode a table of
 * vectors [slots, D] and coefficients [slots, B, S], row 0 being "no steering": coefficient 0, so the
 * value is exactly unchanged, and a slot index per site [layers * 5]); each site gathers its row. The
 * caller feeds only the rows it uses.
 */
export function createHook(base: DecoderGraphBase, plan: HookPlan, shapes: HookShapes): DecoderHook {
  const context: HookContext = {
    base,
    shapes,
    slotTables: base.options.steerEverySite ? declareSlotTables(base) : undefined,
    steer: plan.steer,
    captured: new Set(plan.capture.map(formatHookPoint)),
    projected: new Set(plan.project.map(formatHookPoint)),
  };
  return (value, layer, site) => {
    const point: HookPoint = { layer, site };
    let current = value;
    for (const mode of steeringModesAt(context, point))
      current = applySteering(context, { value: current, point, mode });
    exposePoint(context, current, point);
    return current;
  };
}

function declareSlotTables(base: DecoderGraphBase): Partial<Record<SteeringMode, SlotTable>> {
  const { g, config } = base;
  const d = config.hiddenSize;
  return Object.fromEntries(
    everySiteSteeringOrder.map((mode) => {
      const names = steeringSlotNames(mode);
      const table: SlotTable = {
        vectors: g.input(names.vectors, OnnxType.float32, [`${mode}_slots`, d]),
        coefficients: g.input(names.coefficients, OnnxType.float32, [`${mode}_slots`, 'batch', 'sequence']),
        slots: g.input(names.slots, OnnxType.int64, [config.layerCount * hookSites.length]),
      };
      return [mode, table];
    }),
  );
}

/** The modes steered at a point, in the order they apply. */
function steeringModesAt(context: HookContext, point: HookPoint): readonly SteeringMode[] {
  if (context.slotTables) return everySiteSteeringOrder;
  return context.steer
    .filter((entry) => entry.point.layer === point.layer && entry.point.site === point.site)
    .map((entry) => entry.mode);
}

/** The steering vector [D] and per-token coefficient column [B*S, 1] of a point, in compute type. */
function steeringOperands(
  context: HookContext,
  point: HookPoint,
  mode: SteeringMode,
): { vector: string; coefficient: string } {
  const { base } = context;
  const { g } = base;
  let vectorInput: string;
  let coefficientInput: string;
  const tables = context.slotTables?.[mode];
  if (tables) {
    const index = g.constant(`site_${mode}`, [steeringSiteIndex(point)], OnnxType.int64, []);
    const slot = g.op('Gather', [tables.slots, index], { axis: 0 });
    vectorInput = g.op('Gather', [tables.vectors, slot], { axis: 0 });
    coefficientInput = g.op('Gather', [tables.coefficients, slot], { axis: 0 });
  } else {
    const names = steeringInputNames(point, mode);
    vectorInput = g.input(names.vector, OnnxType.float32, [base.config.hiddenSize]);
    coefficientInput = g.input(names.coefficient, OnnxType.float32, ['batch', 'sequence']);
  }
  return {
    vector: base.toCompute(vectorInput),
    coefficient: base.toCompute(g.op('Reshape', [coefficientInput, context.shapes.coefficientShape])),
  };
}

/** `add`: h + c v. `ablate`: h - c (h.u) u, with u the unit direction (so users may pass any scale). */
function applySteering(
  context: HookContext,
  step: { value: string; point: HookPoint; mode: SteeringMode },
): string {
  const { g } = context.base;
  const { value, point, mode } = step;
  const { vector, coefficient } = steeringOperands(context, point, mode);
  if (mode === 'add')
    return g.op('Add', [value, g.op('Mul', [coefficient, vector])], undefined, {
      hint: `steer_${point.site}_${point.layer}`,
    });
  const unit = g.op('Div', [vector, g.op('ReduceL2', [vector], { keepdims: 1 })]);
  const projection = g.op('MatMul', [value, g.op('Reshape', [unit, g.constant('col', [-1, 1])])]);
  return g.op('Sub', [value, g.op('Mul', [g.op('Mul', [coefficient, projection]), unit])], undefined, {
    hint: `ablate_${point.site}_${point.layer}`,
  });
}

/** The value as a graph output when captured; its dot products with a bank and its norm when projected. */
function exposePoint(context: HookContext, current: string, point: HookPoint): void {
  const { base } = context;
  const { g } = base;
  const f32 = OnnxType.float32;
  const d = base.config.hiddenSize;
  const name = formatHookPoint(point);
  if (context.captured.has(name)) g.output(base.toFloat32(current), name, f32, ['tokens', d]);
  if (!context.projected.has(name)) return;
  const names = projectionNames(point);
  const bank = g.input(names.bank, f32, [`bank_size_${name}`, d]);
  const activations = base.toFloat32(current);
  g.output(g.op('MatMul', [activations, g.op('Transpose', [bank], { perm: [1, 0] })]), names.output, f32, [
    'tokens',
    `bank_size_${name}`,
  ]);
  // |h| per token, so callers can turn dot products into scalar or cosine projections.
  g.output(g.op('ReduceL2', [activations, context.shapes.lastAxis], { keepdims: 0 }), names.norm, f32, [
    'tokens',
  ]);
}
