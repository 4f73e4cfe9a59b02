// The nodevoy command line: `nodevoy proxy` (run a sidecar from an Envoy bootstrap), `nodevoy validate`
// (report every config problem), `nodevoy control-plane` (serve Istio YAML over xDS) and `nodevoy
// proxy-status` (the proxies' sync state), `nodevoy certs` (mesh CA and workload certificates), `nodevoy
// agent` (the workload agent on its own, for an Envoy sidecar). Dispatch only; each command lives in its own file.

import { runAgent } from './agent-command.ts';
import { runCerts } from './certs-command.ts';
import { runControlPlane } from './control-plane-command.ts';
import { runProxy } from './proxy-command.ts';
import { runProxyStatus } from './proxy-status-command.ts';
import { runValidate } from './validate-command.ts';

const USAGE = `usage: nodevoy <command> [options]

commands:
  proxy -c envoy.yaml      run the proxy from an Envoy v3 bootstrap (Envoy's flags: --config-yaml,
                           --service-node, --service-cluster, -l/--log-level, --drain-time-s,
                           --mode serve|validate, --concurrency 1)
  validate FILE            list every problem in an Envoy v3 bootstrap with its field path
  control-plane --config-dir DIR
                           serve the Istio YAML in DIR (VirtualService, DestinationRule, ServiceEntry,
                           WorkloadEntry, EnvoyFilter local rate limit) to proxies over xDS REST-JSON,
                           pushing every change (--address 127.0.0.1, --port 15010, -l/--log-level;
                           debug pages /debug/syncz, /debug/config_dump?proxy=ID, /debug/config_errors);
                           --validate prints every error, conflict and warning instead; exits 1 on errors
  proxy-status [--control-plane http://127.0.0.1:15010]
                           each connected proxy's xDS sync state (CDS LDS EDS RDS), like istioctl
  certs init|issue|token   the mesh CA (--dir cacerts, --trust-domain, --intermediate, --key-type ec|rsa),
                           a workload's certificate files, a workload's bootstrap token (certs --help)
  agent --ca-address URL --namespace NS --service-account SA [--cert-dir DIR] [--sds-port PORT]
                           the workload agent on its own: a certificate from the control plane's CA
                           (--ca-token-file or NODEVOY_CA_TOKEN), renewed at half-life, written to DIR
                           and/or served to an Envoy sidecar over REST SDS on 127.0.0.1 (agent --help)
  version                  print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'proxy':
      return runProxy(rest);
    case 'validate':
      return runValidate(rest);
    case 'control-plane':
      return runControlPlane(rest);
    case 'proxy-status':
      return runProxyStatus(rest);
    case 'certs':
      return runCerts(rest);
    case 'agent':
      if (rest[0] === '--help' || rest[0] === '-h') {
        process.stdout.write((await import('./agent-command.ts')).AGENT_USAGE);
        return 0;
      }
      return runAgent(rest);
    case 'version':
    case '--version':
      process.stdout.write(`nodevoy ${(await import('../proxy/server/server.ts')).NODEVOY_VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`nodevoy: unknown command "${command}"\n\n${USAGE}`);
      return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
