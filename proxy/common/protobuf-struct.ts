// google.protobuf.Struct in protobuf binary form, encoded and decoded by hand (the runtime needs no protobuf
// library for this one message): Istio's peer metadata exchange sends a Struct, base64-encoded, in the
// x-envoy-peer-metadata header. Encoding is deterministic like protobuf's SetSerializationDeterministic (map
// entries sorted by key), so equal structs give equal bytes. No I/O; decode throws on malformed input.

/** A google.protobuf.Value as JSON: null_value, number_value, string_value, bool_value, struct_value, list_value. */
export type StructValue = null | number | string | boolean | readonly StructValue[] | StructFields;
export interface StructFields {
  readonly [key: string]: StructValue;
}

// Field tags: (field number << 3) | wire type (0 varint, 1 64-bit, 2 length-delimited).
const TAG_FIELDS = 0x0a; // Struct.fields (map entry), ListValue.values, MapEntry.key: 1, length-delimited
const TAG_ENTRY_VALUE = 0x12; // MapEntry.value: 2, length-delimited
const TAG_NULL = 0x08; // Value.null_value: 1, varint
const TAG_NUMBER = 0x11; // Value.number_value: 2, 64-bit
const TAG_STRING = 0x1a; // Value.string_value: 3
const TAG_BOOL = 0x20; // Value.bool_value: 4, varint
const TAG_STRUCT = 0x2a; // Value.struct_value: 5
const TAG_LIST = 0x32; // Value.list_value: 6

/** Appends bytes; grows as needed. */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  varint(n: number): void {
    while (n > 0x7f) {
      this.byte((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    this.byte(n);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }

  /** A length-delimited field whose payload `body` writes. */
  nested(tag: number, body: (w: Writer) => void): void {
    const inner = new Writer();
    body(inner);
    this.byte(tag);
    this.varint(inner.len);
    this.bytes(inner.result());
  }

  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function writeFields(w: Writer, fields: StructFields): void {
  // protobuf's deterministic serialization orders map entries by key.
  for (const key of Object.keys(fields).sort()) {
    const value = fields[key]!;
    w.nested(TAG_FIELDS, (entry) => {
      entry.nested(TAG_FIELDS, (k) => k.bytes(Buffer.from(key, 'utf8')));
      entry.nested(TAG_ENTRY_VALUE, (v) => writeValue(v, value));
    });
  }
}

function writeValue(w: Writer, value: StructValue): void {
  if (value === null) {
    w.byte(TAG_NULL);
    w.varint(0);
  } else if (typeof value === 'number') {
    w.byte(TAG_NUMBER);
    w.double(value);
  } else if (typeof value === 'string') {
    w.nested(TAG_STRING, (s) => s.bytes(Buffer.from(value, 'utf8')));
  } else if (typeof value === 'boolean') {
    w.byte(TAG_BOOL);
    w.varint(value ? 1 : 0);
  } else if (Array.isArray(value)) {
    w.nested(TAG_LIST, (list) => {
      for (const item of value as readonly StructValue[]) list.nested(TAG_FIELDS, (v) => writeValue(v, item));
    });
  } else {
    w.nested(TAG_STRUCT, (s) => writeFields(s, value as StructFields));
  }
}

/** The Struct's protobuf binary encoding (deterministic). */
export function encodeStruct(fields: StructFields): Buffer {
  const w = new Writer();
  writeFields(w, fields);
  return w.result();
}

/** Reads protobuf wire format from a byte range. */
class Reader {
  private pos: number;
  private readonly buf: Buffer;
  private readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** A length-delimited payload as a sub-reader. */
  sub(): Reader {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('length-delimited field runs past its message');
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }

  string(): string {
    const r = this.sub();
    return r.buf.toString('utf8', r.pos, r.end);
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new Error('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Skips a field of an unknown number (protobuf parsers keep going). */
  skip(wireType: number): void {
    switch (wireType) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: this.sub(); return;
      case 5: this.advance(4); return;
      default: throw new Error(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new Error('truncated field');
    this.pos += n;
  }
}

function readFields(r: Reader): Record<string, StructValue> {
  const out: Record<string, StructValue> = {};
  while (!r.done()) {
    const tag = r.varint();
    if (tag !== TAG_FIELDS) {
      r.skip(tag & 7);
      continue;
    }
    const entry = r.sub();
    let key = '';
    let value: StructValue = null;
    while (!entry.done()) {
      const t = entry.varint();
      if (t === TAG_FIELDS) key = entry.string();
      else if (t === TAG_ENTRY_VALUE) value = readValue(entry.sub());
      else entry.skip(t & 7);
    }
    out[key] = value;
  }
  return out;
}

function readValue(r: Reader): StructValue {
  // An unset Value (no kind) reads as null, as protobuf's JSON mapping prints it.
  let value: StructValue = null;
  while (!r.done()) {
    const tag = r.varint();
    switch (tag) {
      case TAG_NULL: r.varint(); value = null; break;
      case TAG_NUMBER: value = r.double(); break;
      case TAG_STRING: value = r.string(); break;
      case TAG_BOOL: value = r.varint() !== 0; break;
      case TAG_STRUCT: value = readFields(r.sub()); break;
      case TAG_LIST: {
        const list = r.sub();
        const items: StructValue[] = [];
        while (!list.done()) {
          const t = list.varint();
          if (t === TAG_FIELDS) items.push(readValue(list.sub()));
          else list.skip(t & 7);
        }
        value = items;
        break;
      }
      default: r.skip(tag & 7);
    }
  }
  return value;
}

/** Decodes a Struct from its protobuf binary encoding; throws on malformed input. */
export function decodeStruct(bytes: Buffer): Record<string, StructValue> {
  return readFields(new Reader(bytes));
}
