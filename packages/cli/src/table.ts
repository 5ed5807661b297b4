// The one table printer: columns padded to their widest cell, two spaces apart, no trailing
// blanks. Width counts code points, so names like `rack-1/B0` and `P4*` line up.

export interface TableOptions {
  /** Printed first, upper-cased by the caller if wanted. */
  header?: readonly string[];
  /** Spaces between columns. Default 2. */
  gap?: number;
  /** Columns (by index) aligned to the right, e.g. numbers. */
  alignRight?: readonly number[];
}

export function renderTable(rows: readonly (readonly string[])[], options: TableOptions = {}): string[] {
  const all = options.header ? [options.header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(0, ...all.map((r) => width(r[c] ?? ''))));
  const gap = ' '.repeat(options.gap ?? 2);
  const right = new Set(options.alignRight ?? []);
  return all.map((row) => {
    const cells = Array.from({ length: columns }, (_, c) => {
      const cell = row[c] ?? '';
      const pad = ' '.repeat(widths[c]! - width(cell));
      return right.has(c) ? pad + cell : cell + pad;
    });
    return cells.join(gap).trimEnd();
  });
}

function width(text: string): number {
  return [...text].length;
}
