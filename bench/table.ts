/** The result table: one row per figure, crib beside containerd, and their ratio. */

export type RuntimeName = 'crib' | 'containerd';
export const RUNTIMES: readonly RuntimeName[] = ['crib', 'containerd'];

export type Cell = { value: number } | { error: string };

export interface Row {
  scenario: string;
  /** `n`: a count. */
  unit: 'ms' | 's' | 'KiB' | 'MiB' | 'MB/s' | 'n';
  /** Which way is better, so a ratio can be read at a glance. */
  better: 'lower' | 'higher';
  cells: Record<RuntimeName, Cell>;
  /** A label for the second column when it is not containerd (e.g. crictl against cribd). */
  against?: string;
}

const failed = (err: unknown): string => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();

export const errorCell = (err: unknown): Cell => ({ error: failed(err) });

function formatValue(v: number, unit: Row['unit']): string {
  if (!Number.isFinite(v)) return 'n/a';
  switch (unit) {
    case 'ms':
      return `${v.toFixed(v < 10 ? 2 : 1)} ms`;
    case 's':
      return `${v.toFixed(2)} s`;
    case 'KiB':
      return `${Math.round(v)} KiB`;
    case 'MiB':
      return `${v.toFixed(1)} MiB`;
    case 'MB/s':
      return `${v.toFixed(0)} MB/s`;
    case 'n':
      return String(Math.round(v));
  }
}

const CELL_ERROR_WIDTH = 34;

function formatCell(c: Cell, unit: Row['unit'], footnotes: string[]): string {
  if ('value' in c) return formatValue(c.value, unit);
  footnotes.push(c.error);
  const short = c.error.length > CELL_ERROR_WIDTH ? `${c.error.slice(0, CELL_ERROR_WIDTH - 1)}…` : c.error;
  return `ERROR[${footnotes.length}] ${short}`;
}

export function ratio(row: Row): number {
  const a = row.cells.crib;
  const b = row.cells.containerd;
  return 'value' in a && 'value' in b && b.value !== 0 ? a.value / b.value : NaN;
}

/** The table as text, then the full text of every error a cell shortened. */
export function renderTable(rows: readonly Row[]): string {
  const footnotes: string[] = [];
  const header = ['scenario', 'crib', 'containerd', 'crib/containerd', 'better'];
  const body = rows.map((r) => {
    const q = ratio(r);
    return [
      r.scenario,
      formatCell(r.cells.crib, r.unit, footnotes),
      `${formatCell(r.cells.containerd, r.unit, footnotes)}${r.against ? ` (${r.against})` : ''}`,
      Number.isFinite(q) ? `${q.toFixed(2)}x` : '-',
      r.better === 'lower' ? 'lower' : 'higher',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cols: string[]): string =>
    cols
      .map((c, i) => (i === 0 || i === cols.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  if (footnotes.length) out.push('', ...footnotes.map((f, i) => `[${i + 1}] ${f}`));
  return out.join('\n');
}
