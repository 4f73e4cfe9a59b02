// `nodevoy agent`: flags (else the environment, under node.metadata's keys), every problem reported with the
// usage, a missing or unreadable token refused before anything starts. No CA is contacted.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentArgs, runAgent } from '../../../cli/agent-command.ts';
import { captureIo } from '../../support/captured-io.ts';

const identity = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' };
const BASE = ['--ca-address', 'http://127.0.0.1:15010', '--namespace', 'default', '--service-account', 'web'];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('nodevoy agent flags', () => {
  it.each<[string, string[], Record<string, string>, unknown]>([
    ['SDS only', [...BASE, '--sds-port', '15019'], {},
      { config: { caAddress: 'http://127.0.0.1:15010', certDir: null, identity, ttlSeconds: undefined }, caTokenFile: undefined, sdsPort: 15019, logLevel: 'info' }],
    ['files and SDS, every flag', [...BASE, '--cert-dir', 'certs', '--sds-port', '0', '--trust-domain', 'example.org', '--ttl', '1h', '--ca-token-file', 't', '-l', 'debug'], {},
      { config: { caAddress: 'http://127.0.0.1:15010', certDir: 'certs', identity: { ...identity, trustDomain: 'example.org' }, ttlSeconds: 3600 }, caTokenFile: 't', sdsPort: 0, logLevel: 'debug' }],
    ['the environment, flags first', ['--sds-port', '15019', '--namespace', 'prod'],
      { CA_ADDRESS: 'http://ca:15010/', NAMESPACE: 'default', SERVICE_ACCOUNT: 'web', CERT_DIR: '/etc/certs', SECRET_TTL: '24h' },
      { config: { caAddress: 'http://ca:15010', certDir: '/etc/certs', identity: { ...identity, namespace: 'prod' }, ttlSeconds: 86_400 }, caTokenFile: undefined, sdsPort: 15019, logLevel: 'info' }],
  ])('%s', (_name, argv, env, args) => {
    expect(parseAgentArgs(argv, env)).toEqual({ ok: true, args });
  });

  it.each<[string, string[], Record<string, string>, string[]]>([
    ['no CA address', ['--namespace', 'a', '--service-account', 'b', '--sds-port', '1'], {}, ['--ca-address (or CA_ADDRESS) is required: the CA service, http://host:port']],
    ['nowhere to deliver', BASE, {}, ['nothing to deliver the certificate to: give --cert-dir, --sds-port or both']],
    ['bad values, all reported', ['--ca-address', 'ca:1', '--namespace', 'a', '--sds-port', '70000', '--ttl', 'soon', '-l', 'loud'], {}, [
      '--ca-address (CA_ADDRESS): "ca:1" is not http://host:port',
      '--namespace, --service-account, --trust-domain: the workload identity (NAMESPACE, SERVICE_ACCOUNT, TRUST_DOMAIN): service account "" is not a Kubernetes name (DNS-1123 subdomain)',
      '--ttl (SECRET_TTL): "soon" is not a duration such as 24h or 90s',
      '--sds-port: "70000" is not a port number',
      '--log-level: "loud" is not a log level',
    ]],
    ['an unknown flag', ['--sds-address', '0.0.0.0'], {}, [expect.stringMatching(/Unknown option '--sds-address'/) as unknown as string]],
  ])('%s is an error', (_name, argv, env, errors) => {
    expect(parseAgentArgs(argv, env)).toEqual({ ok: false, errors });
  });
});

describe('nodevoy agent', () => {
  it('exits 1 with the usage on bad flags', async () => {
    const c = captureIo();
    expect(await runAgent(['--bogus'], c.io, {})).toBe(1);
    expect(c.text().stderr).toMatch(/nodevoy agent: Unknown option '--bogus'[\s\S]*usage: nodevoy agent/);
  });

  it('refuses to start without a bootstrap token, or with an unreadable token file', async () => {
    const c = captureIo();
    expect(await runAgent([...BASE, '--sds-port', '0'], c.io, {})).toBe(1);
    expect(c.text().stderr).toBe('nodevoy agent: a bootstrap token is required (--ca-token-file or NODEVOY_CA_TOKEN; `nodevoy certs token` prints one)\n');
    const d = captureIo();
    const dir = mkdtempSync(join(tmpdir(), 'nodevoy-agent-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'token'), 'secret-token\n');
    expect(await runAgent([...BASE, '--sds-port', '0', '--ca-token-file', join(dir, 'missing')], d.io, { NODEVOY_CA_TOKEN: 'secret-token' })).toBe(1);
    expect(d.text().stderr).toMatch(/--ca-token-file: cannot read .*missing: ENOENT/);
    expect(d.text().stderr).not.toContain('secret-token');
  });
});
