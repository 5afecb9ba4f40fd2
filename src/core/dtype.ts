// Element types of tensors: f32 for values, i32 for token ids and indices.
// Not here: half precision storage (f16/bf16 exist only in src/io conversions).

export type DType = 'f32' | 'i32';

export type DataOf<D extends DType> = D extends 'f32' ? Float32Array : Int32Array;
export type AnyData = Float32Array | Int32Array;

export function allocData(dtype: DType, size: number): AnyData {
  switch (dtype) {
    case 'f32':
      return new Float32Array(size);
    case 'i32':
      return new Int32Array(size);
    default:
      return dtype satisfies never;
  }
}

export function dtypeOf(data: AnyData): DType {
  return data instanceof Float32Array ? 'f32' : 'i32';
}
