// The workload agent's settings (Istio's pilot-agent role), from the bootstrap's node metadata (the agent inside
// the proxy) or the same keys given to `nodevoy agent` as flags or environment: CA_ADDRESS (the control plane's
// CA service, http://host:port), CERT_DIR (where the certificate files go: the watched_directory of the
// `default` and `ROOTCA` static secrets), NAMESPACE, SERVICE_ACCOUNT, TRUST_DOMAIN (default cluster.local) and
// SECRET_TTL (requested lifetime, Istio's `24h` form).

import { DEFAULT_TRUST_DOMAIN, workloadIdentityProblem, type WorkloadIdentity } from '../../certs/spiffe-id.ts';
import { fail, ok, type ConfigError, type Result } from '../common/result.ts';

/** Istio's sidecar default certificate directory is /etc/certs; nodevoy's is relative to the working directory. */
export const DEFAULT_CERT_DIR = './certs';

export interface AgentConfig {
  /** Base URL of the CA service (`POST <caAddress>/v1/certificates`). */
  readonly caAddress: string;
  /** null = no files (the standalone agent serving its certificates over SDS only). */
  readonly certDir: string | null;
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

/** The settings' keys, as node.metadata names them. */
export type AgentSetting = 'CA_ADDRESS' | 'CERT_DIR' | 'NAMESPACE' | 'SERVICE_ACCOUNT' | 'TRUST_DOMAIN' | 'SECRET_TTL';

/** Where the settings come from, for error paths, and what a missing CERT_DIR means. */
export interface SettingsOrigin {
  /** The error path of one setting. */
  readonly at: (key: AgentSetting) => string;
  /** The error path of the identity as a whole (NAMESPACE, SERVICE_ACCOUNT, TRUST_DOMAIN). */
  readonly identityPath: string;
  readonly defaultCertDir: string | null;
}

const METADATA: SettingsOrigin = { at: (key) => `node.metadata.${key}`, identityPath: 'node.metadata', defaultCertDir: DEFAULT_CERT_DIR };

/** null when node.metadata has no CA_ADDRESS (no agent: certificates are provisioned some other way). */
export function agentConfigFromMetadata(metadata: Readonly<Record<string, unknown>>): Result<AgentConfig | null> {
  return agentConfigFrom(metadata, METADATA);
}

/** The settings from `values` keyed as node.metadata is; null without CA_ADDRESS. */
export function agentConfigFrom(values: Readonly<Partial<Record<AgentSetting, unknown>>>, origin: SettingsOrigin): Result<AgentConfig | null> {
  const caAddress = str(values['CA_ADDRESS']);
  if (caAddress === undefined) return ok(null);
  const errors: ConfigError[] = [];
  const at = origin.at;
  if (!/^https?:\/\/[^/]+\/?$/.test(caAddress)) errors.push({ path: at('CA_ADDRESS'), kind: 'invalid', message: `"${caAddress}" is not http://host:port` });
  const identity = {
    trustDomain: str(values['TRUST_DOMAIN']) ?? DEFAULT_TRUST_DOMAIN,
    namespace: str(values['NAMESPACE']) ?? '',
    serviceAccount: str(values['SERVICE_ACCOUNT']) ?? '',
  };
  const problem = workloadIdentityProblem(identity);
  if (problem !== undefined) errors.push({ path: origin.identityPath, kind: 'invalid', message: `the workload identity (NAMESPACE, SERVICE_ACCOUNT, TRUST_DOMAIN): ${problem}` });
  const ttlText = str(values['SECRET_TTL']);
  const ttlSeconds = ttlText === undefined ? undefined : parseTtl(ttlText);
  if (ttlText !== undefined && ttlSeconds === undefined) errors.push({ path: at('SECRET_TTL'), kind: 'invalid', message: `"${ttlText}" is not a duration such as 24h or 90s` });
  if (errors.length > 0) return fail(errors);
  return ok({ caAddress: caAddress.replace(/\/$/, ''), certDir: str(values['CERT_DIR']) ?? origin.defaultCertDir, identity, ttlSeconds });
}
