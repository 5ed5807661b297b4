export * from './schema.ts';
export * from './codec.ts';
export * from './messages.ts';
export * from './errors.ts';
export * from './api-versions.ts';
export * from './frame.ts';
