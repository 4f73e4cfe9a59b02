// The nodevoy command line: `nodevoy proxy` (run a sidecar from an Envoy bootstrap) and `nodevoy validate`
// (report every config problem). Dispatch only; each command lives in its own file.

import { runProxy } from './proxy-command.ts';
import { runValidate } from './validate-command.ts';

const USAGE = `usage: nodevoy <command> [options]

commands:
  proxy -c envoy.yaml      run the proxy from an Envoy v3 bootstrap (Envoy's flags: --config-yaml,
                           --service-node, --service-cluster, -l/--log-level, --drain-time-s,
                           --mode serve|validate, --concurrency 1)
  validate FILE            list every problem in an Envoy v3 bootstrap with its field path
  version                  print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'proxy':
      return runProxy(rest);
    case 'validate':
      return runValidate(rest);
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
