// Reads the samples of a Prometheus text exposition (format 0.0.4, what a sidecar's /stats/prometheus serves):
// `name{label="value",...} value [timestamp]` lines, `#` lines skipped. Only the metric names asked for are
// parsed (the rest are skipped by name, cheaply); types, HELP and timestamps are not kept.

export interface PromSample {
  readonly name: string;
  /** Label names and values (escapes resolved), in the order written. */
  readonly labels: Readonly<Record<string, string>>;
  /** The series as written (name and label block): the same series has the same text within one exporter's output. */
  readonly series: string;
  readonly value: number;
}

export interface PromParse {
  readonly samples: PromSample[];
  /** One entry per malformed line among the wanted metrics (`line N: why`); the line is skipped. */
  readonly errors: string[];
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A Go ParseFloat value as Prometheus writes one: decimal or exponent form, or ±Inf / NaN. */
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf)$|^NaN$/;
/** Errors kept per parse: one broken exporter must not fill memory with messages. */
const MAX_ERRORS = 20;

class LineError extends Error {}

/** The samples of the metrics in `wanted` (metric names; a histogram's series are `<name>_bucket`, `_sum`, `_count`). */
export function parsePrometheusText(text: string, wanted: ReadonlySet<string>): PromParse {
  const samples: PromSample[] = [];
  const errors: string[] = [];
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#')) continue;
    const name = metricName(line);
    if (!wanted.has(name)) continue;
    try {
      samples.push(parseSample(line, name));
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      if (errors.length < MAX_ERRORS) errors.push(`line ${lineNo}: ${e.message}`);
    }
  }
  return { samples, errors };
}

function metricName(line: string): string {
  if (!NAME_START.test(line[0] ?? '')) return '';
  let i = 1;
  while (i < line.length && NAME_CHAR.test(line[i]!)) i++;
  return line.slice(0, i);
}

function parseSample(line: string, name: string): PromSample {
  let i = name.length;
  // No prototype: a label may be called __proto__.
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (line[i] === '{') i = parseLabels(line, i + 1, labels);
  const series = line.slice(0, i);
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new LineError('expected a value (and an optional timestamp) after the series');
  const raw = rest[0]!;
  if (!FLOAT.test(raw)) throw new LineError(`"${raw}" is not a sample value`);
  const value = raw.endsWith('Inf') || raw.endsWith('inf') ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
  return { name, labels, series, value };
}

/** Reads `a="x",b="y"}` from `i` (just after `{`) into labels; returns the index after `}`. */
function parseLabels(line: string, i: number, labels: Record<string, string>): number {
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '}') return i + 1;
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new LineError('unterminated label set');
    const label = line.slice(i, eq).trim();
    if (!LABEL_NAME.test(label)) throw new LineError(`"${label}" is not a label name`);
    i = eq + 1;
    while (line[i] === ' ') i++;
    if (line[i] !== '"') throw new LineError(`the value of label ${label} is not quoted`);
    let value = '';
    for (i++; ; i++) {
      const c = line[i];
      if (c === undefined) throw new LineError(`the value of label ${label} is not terminated`);
      if (c === '"') break;
      if (c === '\\') {
        const next = line[++i];
        // The format's three escapes; Prometheus keeps any other backslash as written.
        value += next === 'n' ? '\n' : next === '\\' || next === '"' ? next : `\\${next ?? ''}`;
      } else {
        value += c;
      }
    }
    if (Object.hasOwn(labels, label)) throw new LineError(`label ${label} appears twice`);
    labels[label] = value;
    i++;
    while (line[i] === ' ') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new LineError(`expected "," or "}" after the value of label ${label}`);
  }
}
