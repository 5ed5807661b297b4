import { describe, expect, it } from 'vitest';
import { renderTable } from './table.ts';

describe('renderTable', () => {
  it('pads columns to the widest cell, two spaces apart, without trailing blanks', () => {
    expect(
      renderTable(
        [
          ['0', '10', '0,3,1'],
          ['10', '3', '3,1'],
        ],
        { header: ['PARTITION', 'LEADER', 'REPLICAS'] },
      ),
    ).toEqual(['PARTITION  LEADER  REPLICAS', '0          10      0,3,1', '10         3       3,1']);
  });

  it('aligns chosen columns to the right and tolerates ragged rows', () => {
    expect(renderTable([['a', '1'], ['bb', '100', 'x'], ['c']], { alignRight: [1], gap: 1 })).toEqual(['a    1', 'bb 100 x', 'c']);
  });

  it('renders nothing for no rows', () => {
    expect(renderTable([])).toEqual([]);
  });
});
