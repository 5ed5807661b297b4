export * from './errors.ts';
export * from './varint.ts';
export * from './record-batch.ts';
export * from './msgpack.ts';
export * from './msgpack-scan.ts';
export * from './config.ts';
export * from './api.ts';
export * from './validate.ts';
