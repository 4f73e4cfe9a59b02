// Sample backends for an example: `node examples/backends.ts examples/canary-subsets.yaml` starts the
// demo's sample service on every 127.0.0.1/localhost endpoint of the file's clusters, named after the
// cluster and labelled with the endpoint's `envoy.lb` version, so each answer shows who served it. Clusters
// that config sources poll (an xDS or SDS server, e.g. `nodevoy agent`) are left to that server.

import { loadBootstrap } from '../cli/config-input.ts';
import { printConfigErrors } from '../cli/report.ts';
import { startSampleService, type SampleService } from './demo/sample-service.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost']);

async function main(configPath: string | undefined): Promise<number> {
  if (configPath === undefined) {
    process.stderr.write('usage: node examples/backends.ts examples/<example>.yaml\n');
    return 1;
  }
  const loaded = await loadBootstrap({ configPath, configYaml: undefined });
  if (!loaded.ok) {
    await printConfigErrors(configPath, loaded.errors, process.stderr);
    return 1;
  }
  const services: SampleService[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(services.map((s) => s.close()));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  const started = new Set<number>();
  const { lds, cds } = loaded.config.dynamicResources;
  const management = new Set([lds?.clusterName, cds?.clusterName, ...loaded.config.dynamicSecrets.all().map((s) => s.source.clusterName)]);
  for (const cluster of loaded.config.clusters.filter((c) => !management.has(c.name))) {
    for (const locality of cluster.load_assignment?.endpoints ?? []) {
      for (const lbEndpoint of locality.lb_endpoints ?? []) {
        const { address, port_value: port } = lbEndpoint.endpoint.address.socket_address;
        if (!LOOPBACK.has(address) || started.has(port)) continue;
        const version = lbEndpoint.metadata?.filter_metadata?.['envoy.lb']?.version;
        try {
          services.push(await startSampleService(cluster.name, typeof version === 'string' ? version : '-', port));
        } catch (err) {
          process.stderr.write(`backends: cannot listen on 127.0.0.1:${port}: ${(err as Error).message}\n`);
          await Promise.all(services.map((s) => s.close()));
          return 1;
        }
        started.add(port);
        process.stdout.write(`  ${cluster.name} (version ${typeof version === 'string' ? version : '-'}) on http://127.0.0.1:${port}\n`);
      }
    }
  }
  process.stdout.write(`backends for ${configPath} are running; press Ctrl-C to stop.\n`);
  return new Promise<number>(() => { /* runs until a signal */ });
}

process.exitCode = await main(process.argv[2]);
