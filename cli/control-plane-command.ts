// `nodevoy control-plane --config-dir DIR`: serve the Istio YAML of DIR over xDS REST-JSON (with long-poll
// push and /debug pages), re-translating on every change, and with --ca-dir the CA service (--kube-api: also
// for ServiceAccount tokens, by TokenReview); `--validate` prints every load, validation and conflict error and
// every warning instead (`file[doc]:line Kind ns/name: [warning: ]path: message`), exit 1 on any error.

import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadIstioDirectory } from '../control-plane/istio/load.ts';
import { startControlPlane } from '../control-plane/server/control-plane.ts';
import { createCaService, loadCaDirectory } from '../control-plane/server/ca-service.ts';
import {
  DEFAULT_TOKEN_AUDIENCE, IN_CLUSTER_CA_FILE, IN_CLUSTER_TOKEN_FILE, kubeApiProblem, loadTokenReviewVerifier, type KubeApiSettings,
} from '../control-plane/server/token-review.ts';
import { ISTIO_TRANSLATION, istioTranslation } from '../control-plane/server/istio-source.ts';
import { countSeverities, formatMeshError } from '../control-plane/server/mesh-source.ts';
import { realClock, realRandom } from '../proxy/common/clock.ts';
import { createLogger, parseLogLevel } from '../proxy/common/logger.ts';

export const CONTROL_PLANE_USAGE = 'usage: nodevoy control-plane --config-dir DIR [--address 127.0.0.1] [--port 15010] [-l info] [--validate]\n'
  + '         [--ca-dir CADIR [--kube-api https://HOST:PORT|in-cluster [--kube-token-file FILE] [--kube-ca-file FILE] [--kube-audience istio-ca]...]]\n';

export interface ControlPlaneArgs {
  readonly configDir: string;
  readonly address: string;
  readonly port: number;
  readonly logLevel: string;
  readonly validate: boolean;
  /** --ca-dir: a CA directory (`nodevoy certs init`) to serve the CA service (POST /v1/certificates) from. */
  readonly caDir: string | undefined;
  /** --kube-api and its companions: the CA service also accepts ServiceAccount tokens, checked by TokenReview. */
  readonly kube: KubeApiSettings | undefined;
}

export interface CommandIo {
  readonly out: Writable;
  readonly err: Writable;
}

const STDIO: CommandIo = { out: process.stdout, err: process.stderr };

/** Flags, or every problem with them. A lone positional DIR is the config dir (`--validate DIR`). */
export function parseControlPlaneArgs(argv: readonly string[]): { ok: true; args: ControlPlaneArgs } | { ok: false; errors: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv], allowPositionals: true, strict: true,
      options: {
        'config-dir': { type: 'string' }, address: { type: 'string' }, port: { type: 'string' },
        'log-level': { type: 'string', short: 'l' }, validate: { type: 'boolean' }, 'ca-dir': { type: 'string' },
        'kube-api': { type: 'string' }, 'kube-token-file': { type: 'string' }, 'kube-ca-file': { type: 'string' },
        'kube-audience': { type: 'string', multiple: true },
      },
    });
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const v = parsed.values;
  const errors: string[] = [];
  const dirs = [...(v['config-dir'] === undefined ? [] : [v['config-dir']]), ...parsed.positionals];
  if (dirs.length !== 1) errors.push(dirs.length === 0 ? '--config-dir DIR is required' : `one config directory expected, got ${dirs.join(', ')}`);
  const port = Number(v.port ?? '15010');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) errors.push(`--port: "${v.port}" is not a port number`);
  const logLevel = v['log-level'] ?? 'info';
  if (parseLogLevel(logLevel) === undefined) errors.push(`--log-level: "${logLevel}" is not a log level`);
  const kube = kubeSettings({
    api: v['kube-api'], tokenFile: v['kube-token-file'], caFile: v['kube-ca-file'], audiences: v['kube-audience'], caDir: v['ca-dir'],
  }, errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, args: { configDir: dirs[0]!, address: v.address ?? '127.0.0.1', port, logLevel, validate: v.validate ?? false, caDir: v['ca-dir'], kube } };
}

/**
 * --kube-api (explicit: nothing is read from the environment without it) and its companions, whose defaults
 * are a pod's own ServiceAccount files, as client-go's in-cluster config.
 */
function kubeSettings(
  flags: { api?: string; tokenFile?: string; caFile?: string; audiences?: string[]; caDir?: string },
  errors: string[],
): KubeApiSettings | undefined {
  const { api, tokenFile, caFile, audiences } = flags;
  if (api === undefined) {
    const stray = { 'kube-token-file': tokenFile, 'kube-ca-file': caFile, 'kube-audience': audiences };
    for (const [flag, value] of Object.entries(stray)) if (value !== undefined) errors.push(`--${flag} needs --kube-api`);
    return undefined;
  }
  if (flags.caDir === undefined) errors.push('--kube-api needs --ca-dir (TokenReview proves identities to the CA service)');
  const problem = kubeApiProblem(api);
  if (problem !== undefined) errors.push(`--kube-api: ${problem}`);
  if (audiences?.some((a) => a === '')) errors.push('--kube-audience must not be empty');
  return { api, tokenFile: tokenFile ?? IN_CLUSTER_TOKEN_FILE, caFile: caFile ?? IN_CLUSTER_CA_FILE, audiences: audiences ?? [DEFAULT_TOKEN_AUDIENCE] };
}

export async function runControlPlane(argv: string[], io: CommandIo = STDIO): Promise<number> {
  const parsed = parseControlPlaneArgs(argv);
  if (!parsed.ok) {
    for (const e of parsed.errors) io.err.write(`nodevoy control-plane: ${e}\n`);
    io.err.write(CONTROL_PLANE_USAGE);
    return 1;
  }
  const args = parsed.args;
  return args.validate ? validate(args.configDir, io) : serve(args, io);
}

/**
 * The same load and translation the server runs, reported instead of served: every entry, then
 * `DIR: N errors, M warnings` (prefixed `OK (K resources)` when there is no error). Exit 1 only on errors.
 */
async function validate(dir: string, io: CommandIo): Promise<number> {
  const load = await loadIstioDirectory(dir);
  const translated = ISTIO_TRANSLATION.translateMesh(load.resources);
  const report = [...load.errors, ...translated.errors];
  for (const e of report) io.out.write(`${formatMeshError(e)}\n`);
  for (const d of load.deferred) io.err.write(`${d.file}[${d.document}]: ${d.resource.kind} ${d.resource.namespace ?? 'default'}/${d.resource.name ?? '?'} skipped: ${d.reason}\n`);
  const { errors, warnings } = countSeverities(report);
  const counts = `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
  io.out.write(errors > 0 ? `${dir}: ${counts}\n` : `${dir}: OK (${plural(load.resources.length, 'resource')}; ${counts})\n`);
  return errors > 0 ? 1 : 0;
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

async function serve(args: ControlPlaneArgs, io: CommandIo): Promise<number> {
  const log = createLogger(args.logLevel).get('config');
  let caService;
  if (args.caDir !== undefined) {
    const loaded = loadCaDirectory(args.caDir);
    if (!loaded.ok) {
      io.err.write(`nodevoy control-plane: --ca-dir: ${loaded.reason}\n`);
      return 1;
    }
    let serviceAccountTokens;
    if (args.kube !== undefined) {
      const review = loadTokenReviewVerifier(args.kube, { trustDomain: loaded.value.ca.trustDomain, clock: realClock, env: process.env });
      if (!review.ok) {
        io.err.write(`nodevoy control-plane: ${review.reason}\n`);
        return 1;
      }
      serviceAccountTokens = review.value;
    }
    caService = createCaService({ ...loaded.value, clock: realClock, logger: log, ...(serviceAccountTokens ? { serviceAccountTokens } : {}) });
  }
  let controlPlane;
  try {
    controlPlane = await startControlPlane({
      configDir: args.configDir, host: args.address, port: args.port, clock: realClock, random: realRandom,
      // With a CA every sidecar holds an SVID: Istio's auto mTLS and default PERMISSIVE mTLS chains are on.
      translation: caService ? istioTranslation({ workloadCertificates: true, trustDomain: caService.trustDomain }) : ISTIO_TRANSLATION,
      logger: log, ...(caService ? { caService } : {}),
    });
  } catch (e) {
    io.err.write(`nodevoy control-plane: ${(e as Error).message}\n`);
    return 1;
  }
  const caTokens = args.kube ? `bootstrap tokens; ServiceAccount tokens by TokenReview at ${args.kube.api}` : 'bootstrap tokens';
  io.out.write(`nodevoy control-plane serving ${args.configDir} on ${controlPlane.server.url} (xDS REST-JSON + long-poll, /debug/syncz${caService ? `, CA service POST /v1/certificates (${caTokens})` : ''})\n`);
  if (!caService) {
    io.out.write('no --ca-dir: sidecars get no workload certificates, so traffic between them is plaintext and a workload that a PeerAuthentication (STRICT/PERMISSIVE) or DestinationRule ISTIO_MUTUAL puts on mTLS refuses connections (docs/security.md, "Running a secure mesh by hand")\n');
  }
  const stop = (signal: string): void => {
    log.info(`${signal}: shutting down`);
    void controlPlane.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => { /* runs until a signal */ });
}
