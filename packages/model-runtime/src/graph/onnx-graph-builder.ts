import { create, toBinary } from '@bufbuild/protobuf';
import { numberToFloat16Bits } from '@traitlens/core/internal';
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProto_DataLocation,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from 'onnx-buf';

export const OnnxType = {
  float32: TensorProto_DataType.FLOAT,
  float16: TensorProto_DataType.FLOAT16,
  int64: TensorProto_DataType.INT64,
  int32: TensorProto_DataType.INT32,
  uint8: TensorProto_DataType.UINT8,
} as const;
export type OnnxElementType = (typeof OnnxType)[keyof typeof OnnxType];

/** A dimension: a fixed size or a symbolic name (batch, sequence...). */
export type Dimension = number | string;

export type AttributeValue =
  | number
  | string
  | readonly number[]
  | { float: number }
  | { floats: readonly number[] };

/** Where a weight lives inside the external data file. */
export interface ExternalLocation {
  offset: number;
  length: number;
}

/**
 * A minimal ONNX graph builder: nodes get unique output names, weights refer to an external data file
 * so the .onnx itself stays a few hundred KB even for a 70B model.
 */
export class OnnxGraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private counter = 0;

  constructor(private readonly externalDataFile: string) {}

  /** A fresh value name based on `hint`. */
  name(hint: string): string {
    let candidate = hint;
    while (this.usedNames.has(candidate)) candidate = `${hint}_${++this.counter}`;
    this.usedNames.add(candidate);
    return candidate;
  }

  input(name: string, type: OnnxElementType, dims: readonly Dimension[]): string {
    this.usedNames.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares an existing value as a graph output (an Identity renames it when needed). */
  output(value: string, name: string, type: OnnxElementType, dims: readonly Dimension[]): void {
    if (value !== name) {
      this.usedNames.add(name);
      this.nodes.push(
        create(NodeProtoSchema, { opType: 'Identity', input: [value], output: [name], name: `out_${name}` }),
      );
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a node and returns its output names. */
  node(
    opType: string,
    inputs: readonly string[],
    options: {
      outputs?: number | readonly string[];
      attributes?: Record<string, AttributeValue>;
      domain?: string;
      hint?: string;
    } = {},
  ): string[] {
    const outputCount = options.outputs ?? 1;
    const outputs =
      typeof outputCount === 'number'
        ? Array.from({ length: outputCount }, (_, i) =>
            this.name(`${options.hint ?? opType}${outputCount > 1 ? `_o${i}` : ''}`),
          )
        : [...outputCount];
    for (const output of outputs) this.usedNames.add(output);
    this.nodes.push(
      create(NodeProtoSchema, {
        opType,
        input: [...inputs],
        output: outputs,
        name: this.name(`n_${options.hint ?? opType}`),
        domain: options.domain ?? '',
        attribute: Object.entries(options.attributes ?? {}).map(([key, value]) => attribute(key, value)),
      }),
    );
    return outputs;
  }

  /**
   * One-output node shorthand, the graph DSL's common form: `op('Add', [a, b])`, attributes third,
   * and the rarer output-name hint and operator domain named: `op('Gather', [t, i], { axis: 0 }, { hint: 'embedded' })`.
   */
  op(
    opType: string,
    inputs: readonly string[],
    attributes?: Record<string, AttributeValue>,
    naming: { hint?: string | undefined; domain?: string | undefined } = {},
  ): string {
    const options: Parameters<OnnxGraphBuilder['node']>[2] = {};
    if (attributes) options.attributes = attributes;
    if (naming.hint) options.hint = naming.hint;
    if (naming.domain) options.domain = naming.domain;
    const [output] = this.node(opType, inputs, options) as [string];
    return output;
  }

  externalInitializer(
    name: string,
    type: OnnxElementType,
    dims: readonly number[],
    location: ExternalLocation,
  ): string {
    this.usedNames.add(name);
    this.initializers.push(
      create(TensorProtoSchema, {
        name,
        dataType: type,
        dims: dims.map((d) => BigInt(d)),
        dataLocation: TensorProto_DataLocation.EXTERNAL,
        externalData: [
          create(StringStringEntryProtoSchema, { key: 'location', value: this.externalDataFile }),
          create(StringStringEntryProtoSchema, { key: 'offset', value: String(location.offset) }),
          create(StringStringEntryProtoSchema, { key: 'length', value: String(location.length) }),
        ],
      }),
    );
    return name;
  }

  /** A small constant stored inside the graph (shapes, axes, scalars). */
  constant(
    hint: string,
    values: readonly number[] | Float32Array,
    type: OnnxElementType = OnnxType.int64,
    dims?: readonly number[],
  ): string {
    const name = this.name(hint);
    const shape = dims ?? [values.length];
    const tensor = create(TensorProtoSchema, { name, dataType: type, dims: shape.map((d) => BigInt(d)) });
    if (type === OnnxType.int64) tensor.int64Data = Array.from(values, (v) => BigInt(v));
    else if (type === OnnxType.float32) tensor.rawData = new Uint8Array(Float32Array.from(values).buffer);
    else if (type === OnnxType.int32) tensor.int32Data = Array.from(values);
    else if (type === OnnxType.float16)
      tensor.rawData = new Uint8Array(Uint16Array.from(values, numberToFloat16Bits).buffer);
    else throw new Error(`constant of type ${type} is not supported`);
    this.initializers.push(tensor);
    return name;
  }

  /** Serialises the model. `opsets` maps domain -> version. */
  toBytes(opsets: Record<string, number>, graphName = 'traitlens'): Uint8Array {
    const graph = create(GraphProtoSchema, {
      name: graphName,
      node: this.nodes,
      input: this.inputs,
      output: this.outputs,
      initializer: this.initializers,
    });
    const model = create(ModelProtoSchema, {
      irVersion: 10n,
      producerName: 'traitlens',
      graph,
      opsetImport: Object.entries(opsets).map(([domain, version]) =>
        create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }),
      ),
    });
    return toBinary(ModelProtoSchema, model);
  }
}

function valueInfo(name: string, type: OnnxElementType, dims: readonly Dimension[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: type,
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) =>
              create(TensorShapeProto_DimensionSchema, {
                value:
                  typeof d === 'number'
                    ? { case: 'dimValue', value: BigInt(d) }
                    : { case: 'dimParam', value: d },
              }),
            ),
          }),
        }),
      },
    }),
  });
}

function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'number')
    return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value) });
  if (typeof value === 'string')
    return create(AttributeProtoSchema, {
      name,
      type: AttributeProto_AttributeType.STRING,
      s: new TextEncoder().encode(value),
    });
  if (Array.isArray(value))
    return create(AttributeProtoSchema, {
      name,
      type: AttributeProto_AttributeType.INTS,
      ints: (value as number[]).map((v) => BigInt(v)),
    });
  if ('float' in (value as object))
    return create(AttributeProtoSchema, {
      name,
      type: AttributeProto_AttributeType.FLOAT,
      f: (value as { float: number }).float,
    });
  return create(AttributeProtoSchema, {
    name,
    type: AttributeProto_AttributeType.FLOATS,
    floats: [...(value as { floats: readonly number[] }).floats],
  });
}
