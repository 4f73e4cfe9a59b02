// `nodevoy proxy`: load and validate the bootstrap, start the server, and on SIGTERM/SIGINT drain for
// --drain-time-s and exit 0. `--mode validate` checks the config and exits, as Envoy does.

import { parseProxyArgs, type ProxyOptions } from './args.ts';
import { readCaToken } from './ca-token.ts';
import { loadBootstrap } from './config-input.ts';
import { printConfigErrors } from './report.ts';
import { createLogger } from '../proxy/common/logger.ts';
import { Server } from '../proxy/server/server.ts';

/** /server_info command_line_options with Envoy's snake_case names. */
function commandLineOptions(opts: ProxyOptions): Record<string, unknown> {
  return {
    config_path: opts.configPath ?? '', config_yaml: opts.configYaml ?? '', service_node: opts.serviceNode ?? '',
    service_cluster: opts.serviceCluster ?? '', log_level: opts.logLevel, drain_time: `${opts.drainTimeS}s`,
    mode: opts.mode === 'validate' ? 'Validate' : 'Serve', concurrency: 1,
  };
}

export async function runProxy(argv: string[]): Promise<number> {
  const args = parseProxyArgs(argv);
  if (!args.ok) {
    for (const e of args.errors) process.stderr.write(`nodevoy proxy: ${e}\n`);
    return 1;
  }
  const opts = args.options;
  const loaded = await loadBootstrap(opts);
  if (!loaded.ok) {
    await printConfigErrors(loaded.source, loaded.errors, process.stderr);
    return 1;
  }
  if (opts.mode === 'validate') {
    process.stdout.write(`configuration '${loaded.source}' OK\n`);
    return 0;
  }

  const caToken = readCaToken(opts.caTokenFile);
  if (!caToken.ok) {
    process.stderr.write(`nodevoy proxy: ${caToken.reason}\n`);
    return 1;
  }
  const logger = createLogger(opts.logLevel);
  let server: Server | undefined;
  // /quitquitquit can arrive while listeners are still binding: exit once the server exists.
  let quitRequested = false;
  const quit = (): void => {
    quitRequested = true;
    if (server) void stop('quitquitquit', 0);
  };
  try {
    server = await Server.start({
      bootstrap: loaded.config, logger, onQuit: quit, commandLineOptions: commandLineOptions(opts), drainTimeMs: opts.drainTimeS * 1000,
      ...(caToken.token === undefined ? {} : { caToken: caToken.token }),
    });
  } catch (err) {
    process.stderr.write(`nodevoy proxy: ${(err as Error).message}\n`);
    return 1;
  }

  let stopping = false;
  async function stop(why: string, drainMs: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    logger.get('main').info(`${why}: shutting down`);
    await server?.shutdown(drainMs);
    logger.get('main').info('exiting');
    process.exit(0);
  }
  if (quitRequested) void stop('quitquitquit', 0);
  process.on('SIGTERM', () => void stop('SIGTERM', opts.drainTimeS * 1000));
  process.on('SIGINT', () => void stop('SIGINT', opts.drainTimeS * 1000));
  return new Promise<number>(() => { /* runs until a signal or /quitquitquit */ });
}
