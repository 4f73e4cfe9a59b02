// `nodevoy control-plane`: the config directory watched into an Istio mesh source, served over xDS REST-JSON
// with long-poll push, debug pages and the mesh graph. Resolves once the first scan is applied and the port is bound.

import type { Clock, Random } from '../../proxy/common/clock.ts';
import { watchIstioDirectory } from './config-watch.ts';
import type { Translation } from './istio-source.ts';
import { createIstioMeshSource } from './istio-source.ts';
import { countSeverities } from './mesh-source.ts';
import type { CaService } from './ca-service.ts';
import type { GraphScrapeOptions } from './graph-scraper.ts';
import type { ServerLogger, XdsServer } from './xds-server.ts';
import { startXdsServer } from './xds-server.ts';

export interface ControlPlaneOptions<M> {
  readonly configDir: string;
  readonly host: string;
  readonly port: number;
  readonly clock: Clock;
  readonly random?: Random;
  readonly translation: Translation<M>;
  readonly logger?: ServerLogger;
  readonly debounceMs?: number;
  /** Serve the CA service (`nodevoy control-plane --ca-dir`). */
  readonly caService?: CaService;
  /** The mesh graph (/graph): scrape options, or false for none; default on, scraping every 5 s. */
  readonly graph?: GraphScrapeOptions | false;
}

export interface ControlPlane {
  readonly server: XdsServer;
  close(): Promise<void>;
}

export async function startControlPlane<M>(options: ControlPlaneOptions<M>): Promise<ControlPlane> {
  const source = createIstioMeshSource(options.translation);
  const logger = options.logger;
  const watch = watchIstioDirectory(options.configDir, {
    clock: options.clock,
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    onChange(load) {
      const before = source.generation();
      source.update(load);
      const { errors, warnings } = countSeverities(source.configErrors());
      if (source.generation() !== before) logger?.info(`mesh generation ${source.generation()}: ${load.resources.length} resources, ${errors} config errors, ${warnings} warnings (see /debug/config_errors)`);
    },
    onError: (message) => logger?.warning(message),
  });
  await watch.ready;
  try {
    const server = await startXdsServer({
      host: options.host, port: options.port, clock: options.clock, source,
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(logger === undefined ? {} : { logger }),
      ...(options.caService === undefined ? {} : { caService: options.caService }),
      ...(options.graph === false ? {} : { graph: options.graph ?? {} }),
    });
    return {
      server,
      async close() {
        watch.close();
        await server.close();
      },
    };
  } catch (e) {
    watch.close();
    throw e;
  }
}
