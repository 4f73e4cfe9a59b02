// `nodevoy certs init|issue|token`: create the mesh CA directory (Istio's plugin-CA file names), issue a
// workload's certificate files (Istio's /etc/certs names) for demos and tests, and print a workload's
// bootstrap token. Never prints key material: only names, paths, fingerprints and dates.

import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createCa, type CertificateAuthority } from '../certs/ca.ts';
import { DEFAULT_BOOTSTRAP_TOKEN_TTL_MS, generateTokenSecret, issueBootstrapToken } from '../certs/bootstrap-token.ts';
import { readCaDirectory, readTokenSecret, writeCaDirectory, writeWorkloadFiles } from '../certs/files.ts';
import { KEY_TYPES, type KeyType } from '../certs/keys.ts';
import { issueWorkloadCertificate } from '../certs/local-issuer.ts';
import { DEFAULT_TRUST_DOMAIN, trustDomainProblem, workloadIdentityProblem, workloadSpiffeId, type WorkloadIdentity } from '../certs/spiffe-id.ts';
import { DEFAULT_SVID_TTL_MS } from '../certs/svid.ts';
import { parseIstioDuration } from '../control-plane/istio/istio-kit.ts';
import { realClock, type Clock } from '../proxy/common/clock.ts';

export const CERTS_USAGE = `usage: nodevoy certs <subcommand> [options]

  init  [--dir cacerts] [--trust-domain cluster.local] [--intermediate] [--key-type ec|rsa] [--force]
        create the mesh CA: root-cert.pem, ca-cert.pem, cert-chain.pem, ca-key.pem (0600) and
        bootstrap-token-secret (0600); refuses to replace an existing CA without --force
  issue --dir DIR --namespace NS --service-account SA [--out NS.SA] [--ttl 24h] [--key-type ec|rsa]
        write a workload's cert-chain.pem, key.pem (0600) and root-cert.pem into --out
  token --dir DIR --namespace NS --service-account SA [--ttl 12h]
        print the workload's bootstrap token (its proof of identity to the control plane's CA)
`;

export interface CommandIo {
  readonly out: Writable;
  readonly err: Writable;
}

const STDIO: CommandIo = { out: process.stdout, err: process.stderr };

const OPTIONS = {
  dir: { type: 'string' }, 'trust-domain': { type: 'string' }, intermediate: { type: 'boolean' },
  'key-type': { type: 'string' }, force: { type: 'boolean' }, namespace: { type: 'string' },
  'service-account': { type: 'string' }, out: { type: 'string' }, ttl: { type: 'string' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

export function runCerts(argv: string[], io: CommandIo = STDIO, clock: Clock = realClock): number {
  const [sub, ...rest] = argv;
  let flags: Flags;
  try {
    flags = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    return usageError(io, (e as Error).message);
  }
  switch (sub) {
    case 'init': return init(flags, io, clock);
    case 'issue': return issue(flags, io, clock);
    case 'token': return token(flags, io, clock);
    case undefined:
    case 'help':
    case '--help':
      io.out.write(CERTS_USAGE);
      return sub === undefined ? 1 : 0;
    default:
      return usageError(io, `unknown subcommand "${sub}"`);
  }
}

function usageError(io: CommandIo, message: string): number {
  io.err.write(`nodevoy certs: ${message}\n${CERTS_USAGE}`);
  return 1;
}

function failed(io: CommandIo, message: string): number {
  io.err.write(`nodevoy certs: ${message}\n`);
  return 1;
}

function keyTypeOf(flags: Flags): KeyType | string {
  const keyType = flags['key-type'] ?? 'ec';
  return (KEY_TYPES as readonly string[]).includes(keyType) ? keyType as KeyType : `--key-type: "${keyType}" is not ec or rsa`;
}

/** --ttl as milliseconds, or the problem with it. */
function ttlOf(flags: Flags, defaultMs: number): number | string {
  if (flags.ttl === undefined) return defaultMs;
  const ms = parseIstioDuration(flags.ttl);
  return ms === undefined || ms <= 0 ? `--ttl: "${flags.ttl}" is not a duration like 24h, 90m or 3600s` : ms;
}

function init(flags: Flags, io: CommandIo, clock: Clock): number {
  const dir = flags.dir ?? 'cacerts';
  const trustDomain = flags['trust-domain'] ?? DEFAULT_TRUST_DOMAIN;
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem !== undefined) return usageError(io, `--trust-domain: ${tdProblem}`);
  const keyType = keyTypeOf(flags);
  if (keyType !== 'ec' && keyType !== 'rsa') return usageError(io, keyType);
  const ca = createCa({ trustDomain, keyType, intermediate: flags.intermediate ?? false, clock });
  const written = writeCaDirectory(dir, ca, generateTokenSecret(), { force: flags.force ?? false });
  if (!written.ok) return failed(io, written.reason);
  io.out.write(`created the CA for trust domain ${trustDomain} in ${dir} (${keyType === 'ec' ? 'ECDSA P-256' : 'RSA 2048'}${ca.intermediates.length > 0 ? ', root + intermediate' : ', root signs'})\n`);
  io.out.write(`  root SHA-256 fingerprint ${ca.root.fingerprint256}, valid until ${ca.root.validTo}\n`);
  for (const path of written.value) io.out.write(`  wrote ${path}\n`);
  return 0;
}

/** The CA directory, identity and any errors shared by `issue` and `token`. */
function workloadArgs(flags: Flags, io: CommandIo): { dir: string; identity: WorkloadIdentity; ca: CertificateAuthority } | number {
  const missing = (['dir', 'namespace', 'service-account'] as const).filter((f) => flags[f] === undefined);
  if (missing.length > 0) return usageError(io, missing.map((f) => `--${f} is required`).join('; '));
  const dir = flags.dir!;
  const ca = readCaDirectory(dir, flags['trust-domain'] === undefined ? {} : { trustDomain: flags['trust-domain'] });
  if (!ca.ok) return failed(io, `CA directory ${dir}: ${ca.reason}`);
  const identity = { trustDomain: ca.value.trustDomain, namespace: flags.namespace!, serviceAccount: flags['service-account']! };
  const problem = workloadIdentityProblem(identity);
  if (problem !== undefined) return usageError(io, problem);
  return { dir, identity, ca: ca.value };
}

function issue(flags: Flags, io: CommandIo, clock: Clock): number {
  const args = workloadArgs(flags, io);
  if (typeof args === 'number') return args;
  const keyType = keyTypeOf(flags);
  if (keyType !== 'ec' && keyType !== 'rsa') return usageError(io, keyType);
  const ttlMs = ttlOf(flags, DEFAULT_SVID_TTL_MS);
  if (typeof ttlMs === 'string') return usageError(io, ttlMs);
  const issued = issueWorkloadCertificate(args.ca, args.identity, { clock, keyType, ttlMs });
  if (!issued.ok) return failed(io, issued.reason);
  const out = flags.out ?? `${args.identity.namespace}.${args.identity.serviceAccount}`;
  const written = writeWorkloadFiles(out, issued.value);
  const svid = issued.value.svid;
  io.out.write(`issued ${svid.spiffeId} (serial ${svid.certificate.serialNumber}), valid ${new Date(svid.notBefore).toISOString()} .. ${new Date(svid.notAfter).toISOString()}\n`);
  for (const path of written) io.out.write(`  wrote ${path}\n`);
  return 0;
}

function token(flags: Flags, io: CommandIo, clock: Clock): number {
  const args = workloadArgs(flags, io);
  if (typeof args === 'number') return args;
  const ttlMs = ttlOf(flags, DEFAULT_BOOTSTRAP_TOKEN_TTL_MS);
  if (typeof ttlMs === 'string') return usageError(io, ttlMs);
  const secret = readTokenSecret(args.dir);
  if (!secret.ok) return failed(io, `CA directory ${args.dir}: ${secret.reason}`);
  io.out.write(`${issueBootstrapToken(args.identity, secret.value, clock, ttlMs)}\n`);
  io.err.write(`bootstrap token for ${workloadSpiffeId(args.identity)}, expires ${new Date(clock.now() + ttlMs).toISOString()}\n`);
  return 0;
}
