// %START_TIME% and %START_TIME(<strftime>)% rendering (UTC), compiled once per format string: Envoy's
// default ISO-8601 form with milliseconds, the common strftime specifiers, and Envoy's %E<n>S, %<n>f, %s.

type Piece = string | ((d: Date, ms: number) => string);

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
  'November', 'December'];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Fractional seconds with n digits (ms precision; further digits are zeros). */
const fraction = (ms: number, n: number): string => pad(((ms % 1000) + 1000) % 1000, 3).concat('000000').slice(0, n);

const SPECIFIERS: Record<string, (d: Date, ms: number) => string> = {
  Y: (d) => String(d.getUTCFullYear()),
  y: (d) => pad(d.getUTCFullYear() % 100),
  m: (d) => pad(d.getUTCMonth() + 1),
  d: (d) => pad(d.getUTCDate()),
  e: (d) => String(d.getUTCDate()).padStart(2, ' '),
  H: (d) => pad(d.getUTCHours()),
  I: (d) => pad(((d.getUTCHours() + 11) % 12) + 1),
  p: (d) => (d.getUTCHours() < 12 ? 'AM' : 'PM'),
  M: (d) => pad(d.getUTCMinutes()),
  S: (d) => pad(d.getUTCSeconds()),
  j: (d) => pad(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3),
  a: (d) => DAYS[d.getUTCDay()]!.slice(0, 3),
  A: (d) => DAYS[d.getUTCDay()]!,
  b: (d) => MONTHS[d.getUTCMonth()]!.slice(0, 3),
  h: (d) => MONTHS[d.getUTCMonth()]!.slice(0, 3),
  B: (d) => MONTHS[d.getUTCMonth()]!,
  u: (d) => String(d.getUTCDay() === 0 ? 7 : d.getUTCDay()),
  w: (d) => String(d.getUTCDay()),
  T: (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  R: (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`,
  F: (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
  D: (d) => `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCFullYear() % 100)}`,
  z: () => '+0000',
  Z: () => 'UTC',
  s: (_d, ms) => String(Math.floor(ms / 1000)),
  f: (_d, ms) => fraction(ms, 9),
  n: () => '\n',
  t: () => '\t',
  '%': () => '%',
};

/** Envoy's default START_TIME rendering: `2016-04-15T20:17:00.310Z`. */
export function isoStartTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Compiles a strftime-style format. Returns the renderer, or an error message naming the first
 * unsupported specifier.
 */
export function compileStartTime(format: string): ((ms: number) => string) | string {
  const pieces: Piece[] = [];
  let lit = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch !== '%') { lit += ch; continue; }
    const rest = format.slice(i + 1);
    // %E<n>S: seconds with n fractional digits; %<n>f: n fractional digits (Envoy extensions).
    const ext = /^(?:E(\d)S|(\d)f)/.exec(rest);
    let piece: Piece | undefined;
    if (ext) {
      const digits = Number(ext[1] ?? ext[2]);
      piece = ext[1] !== undefined
        ? (d, ms) => `${pad(d.getUTCSeconds())}${digits > 0 ? `.${fraction(ms, digits)}` : ''}`
        : (_d, ms) => fraction(ms, digits);
      i += ext[0].length;
    } else {
      const spec = rest[0];
      const fn = spec === undefined ? undefined : SPECIFIERS[spec];
      if (!fn) return `START_TIME format "${format}": unsupported specifier "%${spec ?? ''}"`;
      piece = fn;
      i += 1;
    }
    if (lit !== '') { pieces.push(lit); lit = ''; }
    pieces.push(piece);
  }
  if (lit !== '') pieces.push(lit);
  return (ms) => {
    const d = new Date(ms);
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : p(d, ms);
    return out;
  };
}
