/**
 * Parses the timestamps Scout language agents send (RFC 3339, UTC): `…T08:51:59.545Z` (Node),
 * `…T08:53:35.745515+00:00` (Python ≥ 3.3), `…T08:53:35+00:00` (fraction dropped when µs = 0),
 * `…123456Z` (PHP/Elixir). Accepts 0–9 fractional digits, `Z`/`z` or `±hh:mm`/`±hhmm`, and a
 * space instead of `T`. Returns milliseconds since the epoch as a float (µs kept), or
 * `undefined` when the value is not such a string (the caller then uses receive time).
 */
const RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

export function parseScoutTimestamp(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length > 40) return undefined;
  const m = RE.exec(value);
  if (!m) return undefined;
  const year = +m[1]!, month = +m[2]!, day = +m[3]!, hour = +m[4]!, min = +m[5]!, sec = +m[6]!;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return undefined;
  let ms = Date.UTC(year, month - 1, day, hour, min, sec);
  if (Number.isNaN(ms)) return undefined;
  if (m[7]) ms += Number('0.' + m[7]) * 1000;
  if (m[9]) {
    const off = (+m[10]! * 60 + +m[11]!) * 60_000;
    ms += m[9] === '+' ? -off : off;
  }
  return ms;
}

/** ISO 8601 with microseconds and `Z` (the form Scout's upstream payload uses for instants). */
export function formatInstant(ms: number): string {
  const whole = Math.floor(ms);
  const iso = new Date(whole).toISOString(); // 2026-11-23T08:51:59.545Z
  const micros = Math.round((ms - whole) * 1000);
  return iso.slice(0, 23) + String(Math.min(999, micros)).padStart(3, '0') + 'Z';
}
