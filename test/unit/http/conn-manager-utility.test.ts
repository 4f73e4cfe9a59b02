// Table tests for the HCM's request header processing (XFF, internal/external, x-envoy-* stripping,
// x-forwarded-proto, x-request-id), following Envoy's conn_manager_utility.cc.

import { describe, expect, it } from 'vitest';
import { compileCidrs } from '../../../proxy/http/cidr.ts';
import { mutateRequestHeaders, type RequestHeaderPolicy } from '../../../proxy/http/conn-manager-utility.ts';
import type { HeaderMap } from '../../../proxy/http/headers.ts';

const base: RequestHeaderPolicy = {
  useRemoteAddress: false, xffNumTrustedHops: 0, skipXffAppend: false, internalAddresses: compileCidrs([]),
  generateRequestId: true, preserveExternalRequestId: false, internalOnlyHeaders: [],
};
const internal10 = compileCidrs([{ addressPrefix: '10.0.0.0', prefixLen: 8 }]);

describe('mutateRequestHeaders', () => {
  const cases: {
    name: string; policy: Partial<RequestHeaderPolicy>; headers: HeaderMap; peer?: string; tls?: boolean;
    clientIp: string; internal: boolean; expect: HeaderMap; absent?: string[];
  }[] = [
    {
      name: 'use_remote_address appends the peer to XFF and trusts it',
      policy: { useRemoteAddress: true }, headers: {}, peer: '192.0.2.7',
      clientIp: '192.0.2.7', internal: false, expect: { 'x-forwarded-for': '192.0.2.7', 'x-envoy-external-address': '192.0.2.7' },
    },
    {
      name: 'use_remote_address appends to an existing XFF; client is still the peer',
      policy: { useRemoteAddress: true }, headers: { 'x-forwarded-for': '203.0.113.1' }, peer: '192.0.2.7',
      clientIp: '192.0.2.7', internal: false, expect: { 'x-forwarded-for': '203.0.113.1,192.0.2.7' },
    },
    {
      name: 'use_remote_address with xff_num_trusted_hops=1 trusts the rightmost XFF entry',
      policy: { useRemoteAddress: true, xffNumTrustedHops: 1 }, headers: { 'x-forwarded-for': '203.0.113.1, 198.51.100.2' },
      peer: '192.0.2.7', clientIp: '198.51.100.2', internal: false, expect: {},
    },
    {
      name: 'without use_remote_address the client is the rightmost XFF entry and XFF is not appended',
      policy: {}, headers: { 'x-forwarded-for': '203.0.113.1,198.51.100.2' }, peer: '192.0.2.7',
      clientIp: '198.51.100.2', internal: false, expect: { 'x-forwarded-for': '203.0.113.1,198.51.100.2' },
    },
    {
      name: 'xff_num_trusted_hops=1 skips one entry from the right',
      policy: { xffNumTrustedHops: 1 }, headers: { 'x-forwarded-for': '203.0.113.1,198.51.100.2' }, peer: '192.0.2.7',
      clientIp: '203.0.113.1', internal: false, expect: {},
    },
    {
      name: 'nothing is internal by default (Envoy >= 1.33): control headers are stripped',
      policy: { useRemoteAddress: true }, peer: '10.1.2.3',
      headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '3', 'x-envoy-internal': 'true', 'x-envoy-upstream-rq-timeout-ms': '10' },
      clientIp: '10.1.2.3', internal: false, expect: {},
      absent: ['x-envoy-retry-on', 'x-envoy-max-retries', 'x-envoy-internal', 'x-envoy-upstream-rq-timeout-ms'],
    },
    {
      name: 'a single internal XFF address makes the request internal and keeps control headers',
      policy: { useRemoteAddress: true, internalAddresses: internal10 }, peer: '10.1.2.3',
      headers: { 'x-envoy-retry-on': '5xx' },
      clientIp: '10.1.2.3', internal: true, expect: { 'x-envoy-internal': 'true', 'x-envoy-retry-on': '5xx' },
      absent: ['x-envoy-external-address'],
    },
    {
      name: 'an internal peer behind a client XFF is external (XFF no longer holds a single address)',
      policy: { useRemoteAddress: true, internalAddresses: internal10 }, peer: '10.1.2.3',
      headers: { 'x-forwarded-for': '203.0.113.9' }, clientIp: '10.1.2.3', internal: false, expect: {},
    },
    {
      name: 'edge requests also lose decorator and downstream-service headers',
      policy: { useRemoteAddress: true }, peer: '192.0.2.7',
      headers: { 'x-envoy-decorator-operation': 'op', 'x-envoy-downstream-service-cluster': 'c' },
      clientIp: '192.0.2.7', internal: false, expect: {}, absent: ['x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster'],
    },
    {
      name: 'non-edge external requests keep decorator headers',
      policy: {}, peer: '192.0.2.7', headers: { 'x-envoy-decorator-operation': 'op' },
      clientIp: '192.0.2.7', internal: false, expect: { 'x-envoy-decorator-operation': 'op' },
    },
    {
      name: 'at the edge (use_remote_address, no trusted hop) x-forwarded-proto is overwritten from the connection',
      policy: { useRemoteAddress: true }, headers: { 'x-forwarded-proto': 'https' }, tls: false, clientIp: '192.0.2.7', internal: false,
      expect: { 'x-forwarded-proto': 'http' },
    },
    {
      name: 'at the edge with a trusted hop, the x-forwarded-proto it sent is kept',
      policy: { useRemoteAddress: true, xffNumTrustedHops: 1 }, headers: { 'x-forwarded-proto': 'https' }, tls: false, clientIp: '192.0.2.7', internal: false,
      expect: { 'x-forwarded-proto': 'https' },
    },
    {
      name: 'behind another proxy (use_remote_address false) its x-forwarded-proto is kept, and set only when absent',
      policy: {}, headers: { 'x-forwarded-proto': 'https' }, tls: false, clientIp: '192.0.2.7', internal: false,
      expect: { 'x-forwarded-proto': 'https' },
    },
    {
      name: 'x-forwarded-proto is set from the connection when absent',
      policy: {}, headers: {}, tls: true, clientIp: '192.0.2.7', internal: false,
      expect: { 'x-forwarded-proto': 'https' },
    },
    {
      name: 'skip_xff_append does not stop an edge request without XFF from being internal',
      policy: { useRemoteAddress: true, skipXffAppend: true, internalAddresses: internal10 }, peer: '10.1.2.3', headers: {},
      clientIp: '10.1.2.3', internal: true, expect: { 'x-envoy-internal': 'true' }, absent: ['x-forwarded-for'],
    },
    {
      name: 'an XFF entry that is not an IP address is ignored (the peer stays the client)',
      policy: {}, headers: { 'x-forwarded-for': 'not-an-ip' }, peer: '192.0.2.7', clientIp: '192.0.2.7', internal: false, expect: {},
    },
    {
      name: 'internal_only_headers are removed from external requests',
      policy: { internalOnlyHeaders: ['x-secret'] }, headers: { 'x-secret': '1' }, clientIp: '192.0.2.7', internal: false,
      expect: {}, absent: ['x-secret'],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const headers = { ...c.headers };
      const out = mutateRequestHeaders(headers, c.peer ?? '192.0.2.7', c.tls ?? false, { ...base, ...c.policy });
      expect(out).toEqual({ clientIp: c.clientIp, internal: c.internal });
      expect(headers).toMatchObject(c.expect);
      for (const h of c.absent ?? []) expect(headers).not.toHaveProperty(h);
    });
  }

  it('generates x-request-id when missing and keeps a client one on non-edge requests', () => {
    const h1: HeaderMap = {};
    mutateRequestHeaders(h1, '192.0.2.7', false, base);
    expect(h1['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const h2: HeaderMap = { 'x-request-id': 'client-id' };
    mutateRequestHeaders(h2, '192.0.2.7', false, base);
    expect(h2['x-request-id']).toBe('client-id');
  });

  it('regenerates x-request-id on edge requests unless preserve_external_request_id', () => {
    const h1: HeaderMap = { 'x-request-id': 'client-id' };
    mutateRequestHeaders(h1, '192.0.2.7', false, { ...base, useRemoteAddress: true });
    expect(h1['x-request-id']).not.toBe('client-id');
    const h2: HeaderMap = { 'x-request-id': 'client-id' };
    mutateRequestHeaders(h2, '192.0.2.7', false, { ...base, useRemoteAddress: true, preserveExternalRequestId: true });
    expect(h2['x-request-id']).toBe('client-id');
  });

  it('does not generate x-request-id when generate_request_id is false', () => {
    const h: HeaderMap = {};
    mutateRequestHeaders(h, '192.0.2.7', false, { ...base, generateRequestId: false });
    expect(h).not.toHaveProperty('x-request-id');
  });
});
