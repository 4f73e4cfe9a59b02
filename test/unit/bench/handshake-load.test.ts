// Tests bench/lib/handshake-load.ts: the new-connection client's arguments, its JSON result line, and the
// nearest-rank percentile it reports latency with.

import { describe, expect, it } from 'vitest';
import { handshakeClientArgs, parseHandshakeResult, percentile } from '../../../bench/lib/handshake-load.ts';

const spec = { port: 4000, host: 'h.example', path: '/', parallel: 8, durationS: 5, maxConnections: 1000, cpus: '1' };

describe('handshakeClientArgs', () => {
  it('plaintext: no TLS flags', () => {
    expect(handshakeClientArgs(spec)).toEqual(['--port', '4000', '--host', 'h.example', '--path', '/', '--parallel', '8', '--duration', '5', '--max-connections', '1000']);
  });

  it('mTLS: certificate directory, expected server ID, SNI and maximum version', () => {
    const args = handshakeClientArgs({ ...spec, tls: { certDir: '/tmp/c', serverId: 'spiffe://td/ns/a/sa/b', servername: 'sni', maxVersion: '1.2' } });
    expect(args.slice(12)).toEqual(['--cert-dir', '/tmp/c', '--server-id', 'spiffe://td/ns/a/sa/b', '--servername', 'sni', '--tls-max', '1.2']);
  });
});

describe('parseHandshakeResult', () => {
  const line = { connections: 10, ok: 9, errors: 1, elapsedS: 2, perS: 4.5, p50Ms: 1.5, p99Ms: 9, protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', firstError: 'ECONNRESET' };

  it('reads the last JSON line of the output', () => {
    expect(parseHandshakeResult(`some warning\n${JSON.stringify({ ...line, ok: 1 })}\n${JSON.stringify(line)}\n`)).toEqual(line);
  });

  it('defaults the text fields and refuses missing numbers', () => {
    const { protocol: _p, cipher: _c, firstError: _f, ...numbers } = line;
    expect(parseHandshakeResult(JSON.stringify(numbers))).toMatchObject({ protocol: '', cipher: '', firstError: '' });
    expect(() => parseHandshakeResult(JSON.stringify({ ...line, perS: null }))).toThrow(/"perS" is not a number/);
    expect(() => parseHandshakeResult('boom')).toThrow(/no JSON result/);
  });
});

describe('percentile', () => {
  const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it.each([[50, 5], [99, 10], [100, 10], [0, 1], [10, 1], [11, 2]])('p%s = %s', (p, expected) => {
    expect(percentile(sorted, p)).toBe(expected);
  });

  it('is 0 without samples', () => {
    expect(percentile([], 99)).toBe(0);
  });
});
