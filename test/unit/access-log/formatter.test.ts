// Table tests for the substitution formatter: every operator, '-' for missing values, :N truncation,
// X?Y header fallback, START_TIME strftime, compile-time errors, the default format and json_format.

import { describe, expect, it } from 'vitest';
import {
  compileFormatter, compileJsonFormatter, DEFAULT_FORMAT, FormatError, validateFormat, validateJsonFormat,
  type FormatContext,
} from '../../../proxy/access-log/formatter.ts';
import { ResponseFlag } from '../../../proxy/common/response-flags.ts';
import { newStreamInfo } from '../../../proxy/http/stream-info.ts';
import { hostname } from 'node:os';

const START = Date.UTC(2016, 3, 15, 20, 17, 0, 310);

function fullContext(): FormatContext {
  const info = newStreamInfo(START, 1000);
  Object.assign(info, {
    protocol: 'HTTP/2', responseCode: 204, responseFlags: ResponseFlag.UpstreamConnectionFailure | ResponseFlag.UpstreamRetryLimitExceeded,
    responseCodeDetails: 'via_upstream', bytesReceived: 154, bytesSent: 7,
    lastDownstreamRxByteReceived: 1010.7, firstUpstreamRxByteReceived: 1200.2, lastDownstreamTxByteSent: 1226.9,
    routeName: 'default', upstreamHost: '10.0.2.1:80', upstreamCluster: 'locations', upstreamClusterObservabilityName: 'locations-v2',
    upstreamLocalAddress: '10.0.0.5:41000',
    upstreamTransportFailureReason: 'TLS error', downstreamRemoteAddress: '10.0.35.28:5555',
    downstreamDirectRemoteAddress: '10.0.35.1:6666', downstreamLocalAddress: '[::1]:10000', requestedServerName: 'api.example.com',
    connectionTerminationDetails: 'rbac_access_denied',
  });
  info.dynamicMetadata.set('envoy.lb', { version: 'v1', weight: 3, nested: { k: 'x' } });
  return {
    request: {
      method: 'POST', path: '/api/v1/locations?x=1', authority: 'locations', scheme: 'https',
      headers: {
        'x-forwarded-for': '10.0.35.28', 'user-agent': 'nsq2http', 'x-request-id': 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2',
        'x-multi': ['first', 'second'],
      },
    },
    response: { status: 204, headers: { 'x-envoy-upstream-service-time': '100', 'content-type': 'text/plain' } },
    info,
  };
}

function emptyContext(): FormatContext {
  return { request: null, response: null, info: newStreamInfo(START, 1000) };
}

const fmt = (format: string, ctx: FormatContext): string => compileFormatter(format).format(ctx);

describe('compileFormatter operators', () => {
  const cases: [string, string, string][] = [
    // [format, with full context, with empty context]
    ['%START_TIME%', '2016-04-15T20:17:00.310Z', '2016-04-15T20:17:00.310Z'],
    ['%START_TIME(%Y/%m/%d %H:%M:%S)%', '2016/04/15 20:17:00', '2016/04/15 20:17:00'],
    ['%START_TIME(%s.%3f|%E3S|%F %T|%b %a %j %z)%', '1460751420.310|00.310|2016-04-15 20:17:00|Apr Fri 106 +0000', '1460751420.310|00.310|2016-04-15 20:17:00|Apr Fri 106 +0000'],
    ['%REQ(:METHOD)% %REQ(:PATH)% %REQ(:AUTHORITY)% %REQ(:SCHEME)%', 'POST /api/v1/locations?x=1 locations https', '- - - -'],
    ['%REQ(USER-AGENT)%', 'nsq2http', '-'],
    ['%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', '/api/v1/locations?x=1', '-'],
    ['%REQ(X-MISSING?USER-AGENT)%', 'nsq2http', '-'],
    ['%REQ(X-MULTI)%', 'first', '-'],
    ['%REQ(X-REQUEST-ID):8%', 'cc21d9b0', '-'],
    ['%REQ(X-MISSING)%', '-', '-'],
    ['%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%', '100', '-'],
    ['%RESP(X-NOPE?CONTENT-TYPE):4%', 'text', '-'],
    ['%RESP(:STATUS)%', '204', '-'],
    ['%TRAILER(GRPC-STATUS)%', '-', '-'],
    ['%PROTOCOL%', 'HTTP/2', 'HTTP/1.1'],
    ['%RESPONSE_CODE%', '204', '0'],
    ['%RESPONSE_FLAGS%', 'UF,URX', '-'],
    ['%RESPONSE_FLAGS_LONG%', 'UpstreamConnectionFailure,UpstreamRetryLimitExceeded', '-'],
    ['%RESPONSE_CODE_DETAILS%', 'via_upstream', '-'],
    ['%BYTES_RECEIVED% %BYTES_SENT%', '154 7', '0 0'],
    ['%DURATION%', '226', '-'],
    ['%REQUEST_DURATION%', '10', '-'],
    ['%RESPONSE_DURATION%', '200', '-'],
    ['%RESPONSE_TX_DURATION%', '26', '-'],
    ['%UPSTREAM_HOST%', '10.0.2.1:80', '-'],
    ['%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '10.0.2.1', '-'],
    // The cluster's observability name (alt_stat_name), and its name.
    ['%UPSTREAM_CLUSTER%', 'locations-v2', '-'],
    ['%UPSTREAM_CLUSTER_RAW%', 'locations', '-'],
    ['%UPSTREAM_LOCAL_ADDRESS%', '10.0.0.5:41000', '-'],
    ['%UPSTREAM_TRANSPORT_FAILURE_REASON%', 'TLS error', '-'],
    ['%DOWNSTREAM_REMOTE_ADDRESS%', '10.0.35.28:5555', '-'],
    ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '10.0.35.28', '-'],
    ['%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%', '10.0.35.1:6666', '-'],
    ['%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%', '10.0.35.1', '-'],
    ['%DOWNSTREAM_LOCAL_ADDRESS%', '[::1]:10000', '-'],
    ['%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%', '::1', '-'],
    ['%REQUESTED_SERVER_NAME%', 'api.example.com', '-'],
    ['%ROUTE_NAME%', 'default', '-'],
    ['%CONNECTION_TERMINATION_DETAILS%', 'rbac_access_denied', '-'],
    ['%DYNAMIC_METADATA(envoy.lb:version)%', 'v1', '-'],
    ['%DYNAMIC_METADATA(envoy.lb:nested)%', '{"k":"x"}', '-'],
    ['%DYNAMIC_METADATA(envoy.lb:nested:k)%', 'x', '-'],
    ['%DYNAMIC_METADATA(envoy.lb:missing)%', '-', '-'],
    ['%DYNAMIC_METADATA(other)%', '-', '-'],
    ['100%% done', '100% done', '100% done'],
  ];
  for (const [format, full, empty] of cases) {
    it(format, () => {
      expect(fmt(format, fullContext())).toBe(full);
      expect(fmt(format, emptyContext())).toBe(empty);
    });
  }

  it('%HOSTNAME% is the machine name', () => {
    expect(fmt('%HOSTNAME%', emptyContext())).toBe(hostname());
  });

  it('omit_empty_values prints missing values as empty', () => {
    expect(compileFormatter('[%REQ(X-NONE)%]', { omitEmptyValues: true }).format(emptyContext())).toBe('[]');
  });

  it('reports isStatic', () => {
    expect(compileFormatter('plain text\n').isStatic).toBe(true);
    expect(compileFormatter('%PROTOCOL%').isStatic).toBe(false);
  });
});

describe('format errors', () => {
  const bad: [string, RegExp][] = [
    ['%NOT_A_THING%', /unknown command %NOT_A_THING%/],
    ['%REQ%', /needs a header name/],
    ['%REQ(A?B?C)%', /more than one alternative/],
    ['%PROTOCOL(x)%', /takes no arguments/],
    ['50% off', /no valid command at position 2/],
    ['%START_TIME(%Q)%', /unsupported specifier "%Q"/],
    ['%DYNAMIC_METADATA()%', /needs a filter namespace/],
  ];
  for (const [format, msg] of bad) {
    it(format, () => {
      expect(validateFormat(format).join('\n')).toMatch(msg);
      expect(() => compileFormatter(format)).toThrow(FormatError);
    });
  }
  it('collects every problem', () => {
    expect(validateFormat('%A% %B%')).toHaveLength(2);
    expect(validateFormat(DEFAULT_FORMAT)).toEqual([]);
  });
});

describe('default format end to end', () => {
  it('renders the reference example line', () => {
    const ctx = fullContext();
    ctx.info.responseFlags = 0;
    ctx.info.upstreamHost = 'tcp://10.0.2.1:80';
    ctx.request!.path = '/api/v1/locations';
    expect(fmt(DEFAULT_FORMAT, ctx)).toBe(
      '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 7 226 100 "10.0.35.28" "nsq2http" ' +
      '"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"\n');
  });

  it('prints dashes for a request that never got a response', () => {
    expect(fmt(DEFAULT_FORMAT, emptyContext())).toBe('[2016-04-15T20:17:00.310Z] "- - HTTP/1.1" 0 - 0 0 - - "-" "-" "-" "-" "-"\n');
  });
});

describe('compileJsonFormatter', () => {
  const format = {
    start_time: '%START_TIME%',
    method: '%REQ(:METHOD)%',
    code: '%RESPONSE_CODE%',
    bytes: { in: '%BYTES_RECEIVED%', out: '%BYTES_SENT%' },
    duration: '%DURATION%',
    line: '%REQ(:METHOD)% %REQ(:PATH)%',
    missing: '%REQ(X-NONE)%',
    meta: '%DYNAMIC_METADATA(envoy.lb)%',
    ua: '%REQ(USER-AGENT):3%',
    constant: 7,
  };

  it('keeps numbers typed and writes one object per line', () => {
    const line = compileJsonFormatter(format).format(fullContext());
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual({
      start_time: '2016-04-15T20:17:00.310Z', method: 'POST', code: 204, bytes: { in: 154, out: 7 }, duration: 226,
      line: 'POST /api/v1/locations?x=1', missing: null, meta: { version: 'v1', weight: 3, nested: { k: 'x' } }, ua: 'nsq',
      constant: 7,
    });
  });

  it('uses null for missing single operators and "-" inside mixed strings', () => {
    const out = JSON.parse(compileJsonFormatter(format).format(emptyContext()));
    expect(out.method).toBeNull();
    expect(out.line).toBe('- -');
    expect(out.duration).toBeNull();
    expect(out.code).toBe(0);
  });

  it('omit_empty_values drops missing keys', () => {
    const out = JSON.parse(compileJsonFormatter(format, { omitEmptyValues: true }).format(emptyContext()));
    expect(out).not.toHaveProperty('method');
    expect(out).not.toHaveProperty('missing');
    expect(out.code).toBe(0);
  });

  it('sort_properties writes the keys sorted, nested objects included; by default they keep their order', () => {
    const unsorted = { b: '%RESPONSE_CODE%', a: { y: 1, x: 2 } };
    expect(compileJsonFormatter(unsorted).format(fullContext())).toBe('{"b":204,"a":{"y":1,"x":2}}\n');
    expect(compileJsonFormatter(unsorted, { sortProperties: true }).format(fullContext())).toBe('{"a":{"x":2,"y":1},"b":204}\n');
  });

  it('validates nested values with their key path', () => {
    expect(validateJsonFormat({ a: { b: '%NOPE%' }, c: [1] })).toEqual([
      'json_format.a.b: unknown command %NOPE% at position 0 of "%NOPE%"',
      'json_format.c: json_format values must be strings, numbers, booleans or nested objects',
    ]);
  });
});
