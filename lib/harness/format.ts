// Number formats shared by the Markdown and HTML reports.
import type { SeedStat } from './statistics.js';

/** "87.12 ± 0.53" (percent); the mean alone with one seed; "–" with none. */
export function pctStat(s: SeedStat): string {
  if (s.mean === null) return '–';
  return s.std === null
    ? (100 * s.mean).toFixed(2)
    : `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}`;
}

/** A difference of two fractions in signed percentage points: "+1.37 ± 0.50", "-0.20"; "–" with none. */
export function pointsStat(s: SeedStat): string {
  if (s.mean === null) return '–';
  const signed = (v: number) => {
    const text = (100 * v).toFixed(2);
    if (Number(text) === 0) return '0.00'; // not "-0.00" for a tiny negative difference
    return v > 0 ? `+${text}` : text;
  };
  return s.std === null ? signed(s.mean) : `${signed(s.mean)} ± ${(100 * s.std).toFixed(2)}`;
}

export function secondsStat(s: SeedStat | null): string {
  if (s === null || s.mean === null) return '–';
  return s.std === null ? s.mean.toFixed(1) : `${s.mean.toFixed(1)} ± ${s.std.toFixed(1)}`;
}

export const pct = (v: number | null) => (v === null || !Number.isFinite(v) ? '–' : (100 * v).toFixed(2));
export const num = (v: number | null) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(3));

/** "1 h 02 min", "3 min 05 s", "42 s". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600)
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}
