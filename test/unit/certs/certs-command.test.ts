// `nodevoy certs init|issue|token`: the files each writes (Istio's names, secrets 0600), refusing to replace
// a CA, argument errors, that nothing printed contains key material, and the wiring through cli/main.ts.

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyBootstrapToken } from '../../../certs/bootstrap-token.ts';
import { readTokenSecret } from '../../../certs/files.ts';
import { spiffeIdOf } from '../../../certs/spiffe-id.ts';
import { runCerts } from '../../../cli/certs-command.ts';
import { captureIo } from '../../support/captured-io.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { run } from '../../support/processes.ts';
import { handshake, mtlsClient, mtlsServer } from './fixtures.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nodevoy-certs-cli-'));
  dirs.push(d);
  return d;
}

function certs(argv: string[], clock = new FakeClock(Date.now())) {
  const c = captureIo();
  const code = runCerts(argv, c.io, clock);
  return { code, ...c.text() };
}

const mode = (path: string): number => statSync(path).mode & 0o777;
/** Every secret a directory holds, as text that must never be printed (PEM bodies' lines, the token secret). */
function secretsIn(paths: string[]): string[] {
  return paths.flatMap((p) => readFileSync(p, 'utf8').split('\n').filter((line) => line.length > 20 && !line.startsWith('-----')));
}
const workloadFiles = (dir: string) => ({
  keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
  certChainPem: readFileSync(join(dir, 'cert-chain.pem'), 'utf8'),
  rootCertPem: readFileSync(join(dir, 'root-cert.pem'), 'utf8'),
});

describe('nodevoy certs', () => {
  it('init → issue → token: files, modes, nothing secret printed, and certificates that do mutual TLS', async () => {
    const base = tempDir();
    const ca = join(base, 'cacerts');
    const init = certs(['init', '--dir', ca, '--intermediate', '--trust-domain', 'mesh.example']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`created the CA for trust domain mesh.example in ${ca} (ECDSA P-256, root + intermediate)`);
    expect(mode(join(ca, 'ca-key.pem'))).toBe(0o600);
    expect(mode(join(ca, 'bootstrap-token-secret'))).toBe(0o600);
    expect(new X509Certificate(readFileSync(join(ca, 'ca-cert.pem'))).ca).toBe(true);

    const server = join(base, 'server');
    const client = join(base, 'client');
    const issued = [
      certs(['issue', '--dir', ca, '--namespace', 'default', '--service-account', 'server', '--out', server]),
      certs(['issue', '--dir', ca, '--namespace', 'default', '--service-account', 'client', '--out', client, '--ttl', '90m', '--key-type', 'rsa']),
    ];
    for (const r of issued) expect(r.code).toBe(0);
    expect(issued[0]!.stdout).toMatch(/^issued spiffe:\/\/mesh\.example\/ns\/default\/sa\/server \(serial [0-9A-F]+\), valid /);
    expect(mode(join(server, 'key.pem'))).toBe(0o600);
    const clientCert = new X509Certificate(readFileSync(join(client, 'cert-chain.pem')));
    expect(spiffeIdOf(clientCert)).toBe('spiffe://mesh.example/ns/default/sa/client');
    expect(Date.parse(clientCert.validTo) - Date.parse(clientCert.validFrom)).toBe(90 * 60_000 + 2 * 60_000);
    expect(clientCert.publicKey.asymmetricKeyType).toBe('rsa');

    const token = certs(['token', '--dir', ca, '--namespace', 'default', '--service-account', 'client']);
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(/^nbt1\.[^\s]+\n$/);
    const secret = readTokenSecret(ca);
    if (!secret.ok) throw new Error(secret.reason);
    expect(verifyBootstrapToken(token.stdout.trim(), secret.value, new FakeClock(Date.now())))
      .toEqual({ ok: true, value: { trustDomain: 'mesh.example', namespace: 'default', serviceAccount: 'client' } });

    const printed = [init, ...issued, token].map((r) => r.stdout + r.stderr).join('\n');
    expect(printed).not.toMatch(/PRIVATE KEY/);
    for (const secretLine of secretsIn([join(ca, 'ca-key.pem'), join(ca, 'bootstrap-token-secret'), join(server, 'key.pem'), join(client, 'key.pem')])) {
      expect(printed).not.toContain(secretLine);
    }

    const out = await handshake(
      mtlsServer(workloadFiles(server), workloadFiles(server).rootCertPem),
      mtlsClient(workloadFiles(client), workloadFiles(client).rootCertPem, 'spiffe://mesh.example/ns/default/sa/server'),
    );
    expect(out.received).toBe('hello');
    expect(out.clientIdentity).toBe('spiffe://mesh.example/ns/default/sa/client');
  });

  it('refuses to replace an existing CA without --force, and replaces it with --force', () => {
    const ca = join(tempDir(), 'cacerts');
    expect(certs(['init', '--dir', ca]).code).toBe(0);
    const root = readFileSync(join(ca, 'root-cert.pem'), 'utf8');
    const again = certs(['init', '--dir', ca]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds a CA (ca-cert.pem, ca-key.pem, root-cert.pem); use --force to replace it');
    expect(readFileSync(join(ca, 'root-cert.pem'), 'utf8')).toBe(root);
    const forced = certs(['init', '--dir', ca, '--force', '--key-type', 'rsa']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('RSA 2048, root signs');
    expect(readFileSync(join(ca, 'root-cert.pem'), 'utf8')).not.toBe(root);
  });

  it.each([
    [['init', '--trust-domain', 'Bad.Domain'], '--trust-domain: trust domain characters'],
    [['init', '--key-type', 'dsa'], '--key-type: "dsa" is not ec or rsa'],
    [['init', '--bogus'], "Unknown option '--bogus'"],
    [['issue', '--namespace', 'default'], '--dir is required; --service-account is required'],
    [['issue', '--dir', '/nonexistent-nodevoy', '--namespace', 'default', '--service-account', 'x'], 'CA directory /nonexistent-nodevoy: cannot read'],
    [['frobnicate'], 'unknown subcommand "frobnicate"'],
  ])('fails with a reason: %j', (argv, reason) => {
    const r = certs(argv);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(reason);
  });

  it('validates identities and --ttl against a real CA directory', () => {
    const ca = join(tempDir(), 'cacerts');
    certs(['init', '--dir', ca]);
    const badNs = certs(['issue', '--dir', ca, '--namespace', 'Default', '--service-account', 'x']);
    expect(badNs.stderr).toContain('namespace "Default" is not a Kubernetes namespace name');
    const badTtl = certs(['issue', '--dir', ca, '--namespace', 'default', '--service-account', 'x', '--ttl', 'soon']);
    expect(badTtl.stderr).toContain('--ttl: "soon" is not a duration');
    const tooLong = certs(['issue', '--dir', ca, '--namespace', 'default', '--service-account', 'x', '--ttl', '2400h']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain('lifetime');
    const otherTd = certs(['token', '--dir', ca, '--namespace', 'default', '--service-account', 'x', '--trust-domain', 'other.org']);
    expect(otherTd.stderr).toContain('the CA is for trust domain "cluster.local", not "other.org"');
    for (const r of [badNs, badTtl, tooLong, otherTd]) expect(r.code).toBe(1);
  });

  it('writes --out NS.SA by default (relative to the working directory)', () => {
    const base = tempDir();
    const ca = join(base, 'cacerts');
    certs(['init', '--dir', ca]);
    const cwd = process.cwd();
    process.chdir(base);
    try {
      expect(certs(['issue', '--dir', ca, '--namespace', 'default', '--service-account', 'sleep']).code).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    expect(existsSync(join(base, 'default.sleep', 'key.pem'))).toBe(true);
  });

  it('is wired into `nodevoy` (cli/main.ts)', async () => {
    const ca = join(tempDir(), 'cacerts');
    const init = await run(['certs', 'init', '--dir', ca]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('created the CA for trust domain cluster.local');
    const token = await run(['certs', 'token', '--dir', ca, '--namespace', 'default', '--service-account', 'sleep']);
    expect(token.stdout).toMatch(/^nbt1\./);
    const help = await run(['--help']);
    expect(help.stdout).toContain('certs init|issue|token');
  });
});
