// The hand-written google.protobuf.Struct codec against protobufjs (the reference encoder, a dev dependency):
// both read each other's bytes, encoding is deterministic (map keys sorted, as protobuf's deterministic mode),
// unknown fields are skipped, and malformed input throws.

import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeStruct, encodeStruct } from '../../../proxy/common/protobuf-struct.ts';

const root = protobuf.Root.fromJSON(protobuf.common.get('google/protobuf/struct.proto')!);
const Struct = root.lookupType('google.protobuf.Struct');
/** protobufjs's JSON view of a Struct (its `fields` with oneof names), for comparing with the reference. */
const reference = (bytes: Uint8Array): unknown => Struct.toObject(Struct.decode(bytes), { json: true });

const SAMPLE = {
  NAME: 'reviews-v1-7d8f', NAMESPACE: 'default', empty: '', n: 3.5, neg: -2, yes: true, no: false, nil: null,
  LABELS: { app: 'reviews', 'service.istio.io/canonical-name': 'reviews', nested: { deeper: ['a', 1, false, null, { x: 'y' }] } },
  list: [], unicode: 'é✓',
};

describe('google.protobuf.Struct codec', () => {
  it('writes what protobufjs reads, every Value kind included (empty strings and false are written: a oneof is set)', () => {
    expect(reference(encodeStruct(SAMPLE))).toEqual({ fields: {
      LABELS: { structValue: { fields: {
        app: { stringValue: 'reviews' },
        nested: { structValue: { fields: { deeper: { listValue: { values: [
          { stringValue: 'a' }, { numberValue: 1 }, { boolValue: false }, { nullValue: 0 }, { structValue: { fields: { x: { stringValue: 'y' } } } },
        ] } } } } },
        'service.istio.io/canonical-name': { stringValue: 'reviews' },
      } } },
      NAME: { stringValue: 'reviews-v1-7d8f' }, NAMESPACE: { stringValue: 'default' }, empty: { stringValue: '' },
      list: { listValue: {} }, n: { numberValue: 3.5 }, neg: { numberValue: -2 }, nil: { nullValue: 0 },
      no: { boolValue: false }, unicode: { stringValue: 'é✓' }, yes: { boolValue: true },
    } });
  });

  it('reads what protobufjs writes, and round-trips', () => {
    const written = Struct.encode(Struct.fromObject({ fields: {
      a: { stringValue: 'x' }, b: { structValue: { fields: { c: { numberValue: 2 } } } },
      l: { listValue: { values: [{ boolValue: true }, { nullValue: 0 }] } },
    } })).finish();
    expect(decodeStruct(Buffer.from(written))).toEqual({ a: 'x', b: { c: 2 }, l: [true, null] });
    expect(decodeStruct(encodeStruct(SAMPLE))).toEqual(SAMPLE);
  });

  it('is deterministic: map entries in key order whatever the insertion order', () => {
    expect(encodeStruct({ b: '2', a: '1', c: { z: 1, y: 2 } })).toEqual(encodeStruct({ c: { y: 2, z: 1 }, a: '1', b: '2' }));
    expect(encodeStruct({ b: '2', a: '1' }).toString('hex')).toBe(
      // entry{key "a", value{string_value "1"}} then entry "b": 0a 08 (0a 01 61) (12 03 (1a 01 31)) ...
      '0a080a016112031a01310a080a016212031a0132');
  });

  it('skips unknown fields and reads an empty Value as null', () => {
    // field 9 (varint 5) before the map entry; a map entry whose value has no kind.
    expect(decodeStruct(Buffer.from('48050a050a03616263', 'hex'))).toEqual({ abc: null });
  });

  it.each([
    ['a truncated length', '0a08'],
    ['a truncated varint', '0a'],
    ['a length past the end', '0a050a0161'],
    ['a truncated double', '0a0a0a016112051100000000'],
    ['wire type 7', '0f'],
  ])('throws on %s', (_name, hex) => {
    expect(() => decodeStruct(Buffer.from(hex, 'hex'))).toThrow();
  });
});
