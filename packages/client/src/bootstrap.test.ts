import { describe, expect, it } from 'vitest';
import { normalizeBootstrap } from './internal/cluster-client.ts';

describe('bootstrap lists', () => {
  it("reads comma-separated brokers in a string or in any entry of an array, as Kafka's bootstrap.servers", () => {
    const two = [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ];
    expect(normalizeBootstrap('a:1,b:2')).toEqual(two);
    expect(normalizeBootstrap(['a:1,b:2'])).toEqual(two);
    expect(normalizeBootstrap([' a:1 ', { host: 'b', port: 2 }])).toEqual(two);
  });

  it('refuses an empty list and an entry that is not host:port with INVALID_REQUEST', () => {
    expect(() => normalizeBootstrap([])).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => normalizeBootstrap(' , ')).toThrow(/at least one broker/);
    expect(() => normalizeBootstrap(['a:1;b:2'])).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });
});
