// B3 / W3C trace context parsing and formatting as Envoy's Zipkin extractor and injectContext do it:
// single `b3` before the multi headers, 64/128-bit ids, sampling flags, malformed ids, traceparent.

import { describe, expect, it } from 'vitest';
import { B3ExtractionError, extractContext, extractSampled, injectB3, parseSingleB3, parseTraceparent, type HeaderGetter } from '../../../proxy/tracing/b3.ts';

const T64 = '463ac35c9f6413ad';
const T128 = '463ac35c9f6413ad48485a3953bb6124';
const S = 'a2fb4a1d1a96d312';
const P = '0020000000000001';

function getter(headers: Record<string, string>): HeaderGetter {
  return (name) => headers[name];
}

describe('extractSampled', () => {
  it.each([
    ['no headers: the local decision applies', {}, undefined],
    ['x-b3-sampled: 1', { 'x-b3-sampled': '1' }, true],
    ['x-b3-sampled: true (legacy)', { 'x-b3-sampled': 'true' }, true],
    ['x-b3-sampled: 0', { 'x-b3-sampled': '0' }, false],
    ['x-b3-sampled: anything else is not sampled', { 'x-b3-sampled': 'yes' }, false],
    ['b3: 1', { b3: '1' }, true],
    ['b3: d (debug) is sampled', { b3: 'd' }, true],
    ['b3: 0', { b3: '0' }, false],
    ['b3 with a sampling flag (64-bit)', { b3: `${T64}-${S}-0` }, false],
    ['b3 with a sampling flag (128-bit) and parent', { b3: `${T128}-${S}-1-${P}` }, true],
    ['b3 without a sampling flag', { b3: `${T64}-${S}` }, undefined],
    ['b3 first, whatever x-b3-sampled says', { b3: `${T64}-${S}-1`, 'x-b3-sampled': '0' }, true],
    ['b3 with an invalid flag at its place', { b3: `${T64}-${S}-x` }, undefined],
  ])('%s', (_name, headers, expected) => {
    expect(extractSampled(getter(headers), false)).toBe(expected);
  });

  it('reads the traceparent sampled bit only with W3C fallback and no B3 headers', () => {
    const tp = { traceparent: `00-${T128}-${S}-01` };
    expect(extractSampled(getter(tp), false)).toBeUndefined();
    expect(extractSampled(getter(tp), true)).toBe(true);
    expect(extractSampled(getter({ traceparent: `00-${T128}-${S}-00` }), true)).toBe(false);
    expect(extractSampled(getter({ ...tp, 'x-b3-traceid': T64, 'x-b3-spanid': S }), true)).toBeUndefined();
  });
});

describe('extractContext', () => {
  it('multi headers: 64-bit trace id, span id, parent', () => {
    expect(extractContext(getter({ 'x-b3-traceid': T64, 'x-b3-spanid': S, 'x-b3-parentspanid': P }), false))
      .toEqual({ traceIdHigh: '', traceId: T64, spanId: S, parentId: P });
  });

  it('multi headers: a 128-bit trace id splits into high and low halves; upper case is accepted', () => {
    expect(extractContext(getter({ 'x-b3-traceid': T128.toUpperCase(), 'x-b3-spanid': S }), false))
      .toEqual({ traceIdHigh: T128.slice(0, 16), traceId: T128.slice(16), spanId: S, parentId: '' });
  });

  it('short ids are zero-padded (Envoy parses them as numbers); a zero high half or parent means none', () => {
    expect(extractContext(getter({ 'x-b3-traceid': `0000000000000000${T64}`, 'x-b3-spanid': 'abc', 'x-b3-parentspanid': '0' }), false))
      .toEqual({ traceIdHigh: '', traceId: T64, spanId: '0000000000000abc', parentId: '' });
  });

  it('needs both x-b3-traceid and x-b3-spanid', () => {
    expect(extractContext(getter({ 'x-b3-traceid': T64 }), false)).toBeNull();
    expect(extractContext(getter({ 'x-b3-spanid': S, 'x-b3-sampled': '1' }), false)).toBeNull();
  });

  it.each([
    ['a trace id with a non-hex digit', { 'x-b3-traceid': 'zz3ac35c9f6413ad', 'x-b3-spanid': S }],
    ['a trace id longer than 64 bits that is not 128', { 'x-b3-traceid': `${T64}00`, 'x-b3-spanid': S }],
    ['a bad span id', { 'x-b3-traceid': T64, 'x-b3-spanid': 'not-hex' }],
    ['a bad parent id', { 'x-b3-traceid': T64, 'x-b3-spanid': S, 'x-b3-parentspanid': 'q' }],
    ['a bad high half', { 'x-b3-traceid': `x${T128.slice(1)}`, 'x-b3-spanid': S }],
  ])('throws for %s (Envoy then makes no span)', (_name, headers) => {
    expect(() => extractContext(getter(headers), false)).toThrow(B3ExtractionError);
  });

  it('single b3 takes precedence over the multi headers', () => {
    expect(extractContext(getter({ b3: `${T128}-${S}-1-${P}`, 'x-b3-traceid': 'ffffffffffffffff', 'x-b3-spanid': 'ffffffffffffffff' }), false))
      .toEqual({ traceIdHigh: T128.slice(0, 16), traceId: T128.slice(16), spanId: S, parentId: P });
  });

  it('a lone sampling flag in b3 carries no context (and hides the multi headers)', () => {
    expect(extractContext(getter({ b3: '1', 'x-b3-traceid': T64, 'x-b3-spanid': S }), false)).toBeNull();
  });

  it('falls back to traceparent only with W3C propagation and no B3 context', () => {
    const tp = { traceparent: `00-${T128}-${S}-01` };
    expect(extractContext(getter(tp), false)).toBeNull();
    expect(extractContext(getter(tp), true)).toEqual({ traceIdHigh: T128.slice(0, 16), traceId: T128.slice(16), spanId: S, parentId: '' });
    expect(extractContext(getter({ ...tp, 'x-b3-traceid': T64, 'x-b3-spanid': P }), true)).toEqual({ traceIdHigh: '', traceId: T64, spanId: P, parentId: '' });
    expect(extractContext(getter({ traceparent: 'garbage' }), true)).toBeNull();
  });
});

describe('parseSingleB3', () => {
  it.each([
    [`${T64}-${S}`, { traceIdHigh: '', traceId: T64, spanId: S, parentId: '' }],
    [`${T64}-${S}-d`, { traceIdHigh: '', traceId: T64, spanId: S, parentId: '' }],
    [`${T64}-${S}-0-${P}`, { traceIdHigh: '', traceId: T64, spanId: S, parentId: P }],
    [`${T128}-${S}-1`, { traceIdHigh: T128.slice(0, 16), traceId: T128.slice(16), spanId: S, parentId: '' }],
  ])('%s', (b3, expected) => {
    expect(parseSingleB3(b3)).toEqual(expected);
  });

  it.each([
    ['empty', ''],
    ['an invalid lone flag', 'x'],
    ['truncated', `${T64}-a2fb`],
    ['too long', `${T128}-${S}-1-${P}0`],
    ['no separator before the span id', `${T64}x${S}`],
    ['a dangling separator', `${T64}-${S}-`],
    ['an invalid sampling flag', `${T64}-${S}-2`],
    ['a two-character sampling field', `${T64}-${S}-11`],
    ['a truncated parent', `${T64}-${S}-1-0020`],
  ])('rejects %s', (_name, b3) => {
    expect(() => parseSingleB3(b3)).toThrow(B3ExtractionError);
  });
});

describe('parseTraceparent', () => {
  it.each([
    [`00-${T128}-${S}-01`, { traceId: T128, spanId: S, sampled: true }],
    [`00-${T128}-${S}-00`, { traceId: T128, spanId: S, sampled: false }],
    [`01-${T128}-${S}-03-future`, { traceId: T128, spanId: S, sampled: true }],
  ])('%s', (value, expected) => {
    expect(parseTraceparent(value)).toEqual(expected);
  });

  it.each([
    ['version ff', `ff-${T128}-${S}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${S}-01`],
    ['an all-zero parent id', `00-${T128}-0000000000000000-01`],
    ['upper-case hex', `00-${T128.toUpperCase()}-${S}-01`],
    ['extra fields on version 00', `00-${T128}-${S}-01-x`],
    ['a short trace id', `00-${T64}-${S}-01`],
  ])('ignores %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('injectB3', () => {
  function inject(ids: Parameters<typeof injectB3>[1], w3c = false): Record<string, string> {
    const out: Record<string, string> = {};
    injectB3((k, v) => { out[k] = v; }, ids, w3c);
    return out;
  }

  it('writes x-b3-traceid, spanid, parentspanid (only with a parent) and sampled 1/0', () => {
    expect(inject({ traceIdHigh: '', traceId: T64, spanId: S, parentId: P, sampled: true })).toEqual({
      'x-b3-traceid': T64, 'x-b3-spanid': S, 'x-b3-parentspanid': P, 'x-b3-sampled': '1',
    });
    expect(inject({ traceIdHigh: '', traceId: T64, spanId: S, parentId: '', sampled: false })).toEqual({
      'x-b3-traceid': T64, 'x-b3-spanid': S, 'x-b3-sampled': '0',
    });
  });

  it('writes a 128-bit trace id as 32 digits, and traceparent only with W3C propagation', () => {
    const ids = { traceIdHigh: T128.slice(0, 16), traceId: T128.slice(16), spanId: S, parentId: '', sampled: true };
    expect(inject(ids)['x-b3-traceid']).toBe(T128);
    expect(inject(ids).traceparent).toBeUndefined();
    expect(inject(ids, true).traceparent).toBe(`00-${T128}-${S}-01`);
    expect(inject({ ...ids, traceIdHigh: '', traceId: T64, sampled: false }, true).traceparent).toBe(`00-0000000000000000${T64}-${S}-00`);
  });
});
