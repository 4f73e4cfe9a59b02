// The workload agent (Istio's pilot-agent certificate role, inside the proxy or standalone as `nodevoy agent`):
// generates the workload's key (kept in memory and in CERT_DIR/key.pem 0600 only; never sent to the CA), sends a
// CSR for spiffe://<td>/ns/<ns>/sa/<sa> with the bootstrap token to the control plane's CA service, checks the
// answer, writes the certificate directory atomically and tells the static secrets to reload, and hands the set
// to its SDS endpoint when it has one (sds-server.ts). It renews at half the remaining lifetime and retries
// failures with jittered exponential back-off; the last good certificate keeps serving meanwhile.

import type { KeyObject, X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { WorkloadFiles } from '../../certs/files.ts';
import { readPemCertificates } from '../../certs/files.ts';
import { buildWorkloadCsr } from '../../certs/csr.ts';
import { generateKeyPair, privateKeyPem } from '../../certs/keys.ts';
import { spiffeIdOf, workloadSpiffeId } from '../../certs/spiffe-id.ts';
import type { Clock, Random, TimerHandle } from '../common/clock.ts';
import type { ComponentLogger } from '../common/logger.ts';
import type { Counter, StatsScope } from '../stats/scope.ts';
import type { AgentConfig } from './agent-config.ts';
import { requestCertificate, type CaAnswer } from './ca-client.ts';
import { writeCertDirectory } from './cert-files.ts';
import type { WorkloadSecrets, WorkloadSecretSet } from './sds-server.ts';

/** First retry after a failure; doubles per failure up to RETRY_MAX_MS (then jittered to 50-100%). */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

/**
 * The proof of identity the agent sends with each CSR: a token, or a function read again for every request (a
 * projected Kubernetes ServiceAccount token file is rotated by the kubelet). A throw is a failed request.
 */
export type TokenSource = string | (() => string);

export interface AgentDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly log: ComponentLogger;
  readonly stats: StatsScope;
  /** Called after the files are in place (the server reloads the secrets watching the directory). */
  readonly onWritten?: (certDir: string) => void;
}

export interface IssuedCertificate {
  readonly serialNumber: string;
  readonly notAfterMs: number;
  /** When the agent renews (wall clock ms). */
  readonly renewAtMs: number;
}

interface AgentStats {
  readonly success: Counter;
  readonly failure: Counter;
}

/** Also the source of its SDS endpoint: the last certificate set, versioned by the certificate's serial. */
export class WorkloadAgent implements WorkloadSecrets {
  private readonly config: AgentConfig;
  private readonly token: TokenSource;
  private readonly deps: AgentDeps;
  private readonly stats: AgentStats;
  private readonly spiffeId: string;
  private timer: TimerHandle | null = null;
  private failures = 0;
  private stopped = false;
  private waiters: ((issued: IssuedCertificate) => void)[] = [];
  private latest: WorkloadSecretSet | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(config: AgentConfig, token: TokenSource, deps: AgentDeps) {
    this.config = config;
    this.token = token;
    this.deps = deps;
    this.spiffeId = workloadSpiffeId(config.identity);
    const s = deps.stats.scope('workload_agent');
    this.stats = { success: s.counter('csr_success'), failure: s.counter('csr_failure') };
  }

  get identity(): string {
    return this.spiffeId;
  }

  /** Creates CERT_DIR (0700), so the secrets' directory watch can start before the first certificate lands. */
  createCertDirectory(): void {
    if (this.config.certDir !== null) mkdirSync(this.config.certDir, { recursive: true, mode: 0o700 });
  }

  /** The last certificate set (key, chain, root) and its version; undefined before the first. */
  current(): WorkloadSecretSet | undefined {
    return this.latest;
  }

  /** Called after each new certificate set; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends the first CSR now. */
  start(): void {
    this.deps.log.info(`workload agent: requesting a certificate for ${this.spiffeId} from ${this.config.caAddress}`);
    void this.renew();
  }

  /** Resolves with the next certificate the agent writes (tests, and callers waiting for rotation). */
  nextCertificate(): Promise<IssuedCertificate> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(() => void this.renew(), delayMs);
  }

  private async renew(): Promise<void> {
    this.timer = null;
    const keys = generateKeyPair('ec');
    const token = this.currentToken();
    const answer = token.ok
      ? await requestCertificate(this.config.caAddress, token.value, buildWorkloadCsr(this.spiffeId, keys), this.config.ttlSeconds, this.deps.clock)
      : token;
    if (this.stopped) return;
    const checked = answer.ok ? this.check(answer.value, keys.privateKey) : answer;
    if (!checked.ok) {
      this.stats.failure.inc();
      this.failures++;
      const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.failures - 1));
      const delay = Math.round(backoff * (0.5 + this.deps.random.next() / 2));
      this.deps.log.warning(`workload agent: certificate request failed (attempt ${this.failures}), retrying in ${delay} ms: ${checked.reason}`);
      this.schedule(delay);
      return;
    }
    this.failures = 0;
    this.stats.success.inc();
    const { leaf, files } = checked.value;
    const certDir = this.config.certDir;
    if (certDir !== null) writeCertDirectory(certDir, files);
    const now = this.deps.clock.now();
    const notAfterMs = Date.parse(leaf.validTo);
    // Istio rotates at half the lifetime (SECRET_GRACE_PERIOD_RATIO 0.5), counted from now so a backdated
    // notBefore cannot make a short-lived certificate due at once.
    const renewIn = Math.max(RETRY_BASE_MS, Math.floor((notAfterMs - now) / 2));
    const issued: IssuedCertificate = { serialNumber: leaf.serialNumber.toLowerCase(), notAfterMs, renewAtMs: now + renewIn };
    this.deps.log.info(`workload agent: certificate serial ${issued.serialNumber} for ${this.spiffeId}${certDir === null ? '' : ` written to ${certDir}`}, renewing at ${new Date(issued.renewAtMs).toISOString()}`);
    if (certDir !== null) this.deps.onWritten?.(certDir);
    this.latest = { version: issued.serialNumber, files };
    for (const l of [...this.listeners]) l();
    this.schedule(renewIn);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(issued);
  }

  private currentToken(): { ok: true; value: string } | { ok: false; reason: string } {
    if (typeof this.token === 'string') return { ok: true, value: this.token };
    try {
      return { ok: true, value: this.token() };
    } catch (e) {
      return { ok: false, reason: `cannot read the token: ${(e as Error).message}` };
    }
  }

  /** The answer's leaf must carry our SPIFFE ID and our key; then it is the directory's content. */
  private check(answer: CaAnswer, privateKey: KeyObject): { ok: true; value: { leaf: X509Certificate; files: WorkloadFiles } } | { ok: false; reason: string } {
    const certChainPem = answer.certChain.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join('');
    const certs = readPemCertificates(certChainPem);
    if (!certs.ok || certs.value.length === 0) return { ok: false, reason: `CA answer: ${certs.ok ? 'no certificate' : certs.reason}` };
    const leaf = certs.value[0]!;
    if (!leaf.checkPrivateKey(privateKey)) return { ok: false, reason: 'CA answer: the certificate is not for the key the CSR carried' };
    const id = spiffeIdOf(leaf);
    if (id !== this.spiffeId) return { ok: false, reason: `CA answer: the certificate is for ${id ?? 'no SPIFFE ID'}, not ${this.spiffeId}` };
    return { ok: true, value: { leaf, files: { certChainPem, keyPem: privateKeyPem(privateKey), rootCertPem: answer.rootCert } } };
  }
}
