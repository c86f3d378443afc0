import type { Target } from './runtimes.js';
import { errorCell, type Cell, type Row, type RuntimeName } from './table.js';

/**
 * How scenarios take samples from both runtimes: alternately (crib, containerd, crib, ...) so that
 * machine noise falls on both alike, and a runtime that fails stops being asked while the other
 * goes on; the failure becomes the text of its cells.
 */

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export type PerRuntime<T> = Record<RuntimeName, Outcome<T>>;

/** Calls `measure(t, i)` for i in [0, n), one target after the other in each iteration; each call returns one sample. */
export async function alternate<T = number>(targets: readonly Target[], n: number, measure: (t: Target, i: number) => Promise<T>): Promise<PerRuntime<T[]>> {
  const samples = new Map<RuntimeName, T[]>(targets.map((t) => [t.name, []]));
  const errors = new Map<RuntimeName, unknown>();
  for (let i = 0; i < n; i++) {
    for (const t of targets) {
      if (errors.has(t.name)) continue;
      try {
        samples.get(t.name)?.push(await measure(t, i));
      } catch (err) {
        errors.set(t.name, err);
      }
    }
  }
  return perRuntime((name) => {
    if (errors.has(name)) return { ok: false, error: errors.get(name) };
    return { ok: true, value: samples.get(name) ?? [] };
  });
}

/** Runs `fn` for each target in turn, keeping each one's value or error. */
export async function eachTarget<T>(targets: readonly Target[], fn: (t: Target) => Promise<T>): Promise<PerRuntime<T>> {
  const out = new Map<RuntimeName, Outcome<T>>();
  for (const t of targets) {
    try {
      out.set(t.name, { ok: true, value: await fn(t) });
    } catch (err) {
      out.set(t.name, { ok: false, error: err });
    }
  }
  return perRuntime((name) => out.get(name) ?? { ok: false, error: new Error('not run') });
}

function perRuntime<T>(f: (name: RuntimeName) => Outcome<T>): PerRuntime<T> {
  return { crib: f('crib'), containerd: f('containerd') };
}

/** A table row from each runtime's outcome, reduced to one number (a percentile, a median, a sum). */
export function row<T>(
  scenario: string,
  unit: Row['unit'],
  better: Row['better'],
  outcomes: PerRuntime<T>,
  reduce: (value: T) => number,
  against?: string,
): Row {
  const cell = (o: Outcome<T>): Cell => {
    if (!o.ok) return errorCell(o.error);
    try {
      return { value: reduce(o.value) };
    } catch (err) {
      return errorCell(err);
    }
  };
  return { scenario, unit, better, cells: { crib: cell(outcomes.crib), containerd: cell(outcomes.containerd) }, ...(against ? { against } : {}) };
}

/** The value of an outcome, or undefined after a failure. */
export function valueOf<T>(o: Outcome<T>): T | undefined {
  return o.ok ? o.value : undefined;
}
