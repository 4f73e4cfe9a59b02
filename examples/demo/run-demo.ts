// `npm start`: a small local mesh on loopback — two versions of a sample "reviews" service and nodevoy in
// front of them running examples/demo/envoy.yaml (90/10 split plus a header-based canary route).
// Prints what is listening and a few commands to try; Ctrl-C drains and stops everything.

import { fileURLToPath } from 'node:url';
import { loadBootstrap } from '../../cli/config-input.ts';
import { printConfigErrors } from '../../cli/report.ts';
import { createLogger } from '../../proxy/common/logger.ts';
import { Server } from '../../proxy/server/server.ts';
import { startSampleService, type SampleService } from './sample-service.ts';

const configPath = fileURLToPath(new URL('./envoy.yaml', import.meta.url));

async function main(): Promise<void> {
  const loaded = await loadBootstrap({ configPath, configYaml: undefined });
  if (!loaded.ok) {
    await printConfigErrors(configPath, loaded.errors, process.stderr);
    process.exit(1);
  }
  const services: SampleService[] = [];
  let server: Server | undefined;
  const stop = async (code: number): Promise<never> => {
    process.stdout.write('\nstopping the demo...\n');
    await server?.shutdown(1000);
    await Promise.all(services.map((s) => s.close()));
    process.exit(code);
  };
  try {
    services.push(await startSampleService('reviews', 'v1', 18081));
    services.push(await startSampleService('reviews', 'v2', 18082));
    server = await Server.start({ bootstrap: loaded.config, logger: createLogger('warning'), onQuit: () => void stop(0) });
  } catch (err) {
    process.stderr.write(`demo: cannot start: ${(err as Error).message}\n(is another demo or Envoy already using ports 10000, 15000, 18081 or 18082?)\n`);
    await stop(1);
  }
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const port = server!.listenerPort('outbound_10000');
  process.stdout.write(`nodevoy demo is running (config: examples/demo/envoy.yaml)

  reviews v1        http://127.0.0.1:18081
  reviews v2        http://127.0.0.1:18082
  nodevoy listener  http://127.0.0.1:${port}   (90% v1 / 10% v2; end-user: jason -> v2)
  nodevoy admin     http://127.0.0.1:${server!.adminPort}

Try:
  curl -s http://127.0.0.1:${port}/reviews/1
  for i in $(seq 20); do curl -s http://127.0.0.1:${port}/ | grep -o '"version":"v[12]"'; done | sort | uniq -c
  curl -si -H 'end-user: jason' http://127.0.0.1:${port}/reviews/1
  curl -s http://127.0.0.1:${server!.adminPort}/stats/prometheus | grep envoy_cluster_upstream_rq_total
  curl -s http://127.0.0.1:${server!.adminPort}/clusters

Access log lines appear below. Press Ctrl-C to stop.
`);
}

await main();
