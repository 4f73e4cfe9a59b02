// The workload agent's settings (Istio's pilot-agent role inside the proxy), from the bootstrap's node
// metadata: CA_ADDRESS (the control plane's CA service, http://host:port), CERT_DIR (where the certificate
// files go: the watched_directory of the `default` and `ROOTCA` static secrets), NAMESPACE, SERVICE_ACCOUNT,
// TRUST_DOMAIN (default cluster.local) and SECRET_TTL (requested lifetime, Istio's `24h` form).

import { DEFAULT_TRUST_DOMAIN, workloadIdentityProblem, type WorkloadIdentity } from '../../certs/spiffe-id.ts';
import { fail, ok, type ConfigError, type Result } from '../common/result.ts';

/** Istio's sidecar default certificate directory is /etc/certs; nodevoy's is relative to the working directory. */
export const DEFAULT_CERT_DIR = './certs';

export interface AgentConfig {
  /** Base URL of the CA service (`POST <caAddress>/v1/certificates`). */
  readonly caAddress: string;
  readonly certDir: string;
  readonly identity: WorkloadIdentity;
  /** Requested certificate lifetime (SECRET_TTL); undefined = the CA's default (24 h). */
  readonly ttlSeconds: number | undefined;
}

const UNITS: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1 };

/** A Go-style duration of hours/minutes/seconds (`24h`, `1h30m`, `90s`, `24h0m0s`) in seconds. */
export function parseTtl(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)([hms])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  const seconds = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0);
  return seconds > 0 ? Math.round(seconds) : undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** null when node.metadata has no CA_ADDRESS (no agent: certificates are provisioned some other way). */
export function agentConfigFromMetadata(metadata: Readonly<Record<string, unknown>>): Result<AgentConfig | null> {
  const caAddress = str(metadata['CA_ADDRESS']);
  if (caAddress === undefined) return ok(null);
  const errors: ConfigError[] = [];
  const at = (field: string): string => `node.metadata.${field}`;
  if (!/^https?:\/\/[^/]+\/?$/.test(caAddress)) errors.push({ path: at('CA_ADDRESS'), kind: 'invalid', message: `"${caAddress}" is not http://host:port` });
  const identity = {
    trustDomain: str(metadata['TRUST_DOMAIN']) ?? DEFAULT_TRUST_DOMAIN,
    namespace: str(metadata['NAMESPACE']) ?? '',
    serviceAccount: str(metadata['SERVICE_ACCOUNT']) ?? '',
  };
  const problem = workloadIdentityProblem(identity);
  if (problem !== undefined) errors.push({ path: 'node.metadata', kind: 'invalid', message: `the workload identity (NAMESPACE, SERVICE_ACCOUNT, TRUST_DOMAIN): ${problem}` });
  const ttlText = str(metadata['SECRET_TTL']);
  const ttlSeconds = ttlText === undefined ? undefined : parseTtl(ttlText);
  if (ttlText !== undefined && ttlSeconds === undefined) errors.push({ path: at('SECRET_TTL'), kind: 'invalid', message: `"${ttlText}" is not a duration such as 24h or 90s` });
  if (errors.length > 0) return fail(errors);
  return ok({ caAddress: caAddress.replace(/\/$/, ''), certDir: str(metadata['CERT_DIR']) ?? DEFAULT_CERT_DIR, identity, ttlSeconds });
}
