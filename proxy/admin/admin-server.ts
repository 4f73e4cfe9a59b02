// The admin server (bootstrap `admin.address`): Envoy's admin endpoints on node:http, separate from the data
// plane. Handlers are a table of exact paths like Envoy's AdminImpl; mutating ones require POST, an unknown
// path gets 404 with the command list. Reads the proxy only through AdminContext.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOG_LEVELS, parseLogLevel, type LogLevel } from '../common/logger.ts';
import { PROMETHEUS_CONTENT_TYPE, PrometheusRenderer } from '../stats/prometheus.ts';
import { renderStatsJson, renderStatsText, STATS_TYPES, type StatsType } from '../stats/render.ts';
import { renderClustersJson, renderClustersText } from './clusters.ts';
import type { AdminContext, AdminServer } from './types.ts';

export type { AdminContext, AdminServer } from './types.ts';

const TEXT = 'text/plain; charset=UTF-8';
const JSON_TYPE = 'application/json';
const HTML = 'text/html; charset=UTF-8';

interface AdminResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** Runs once the response is sent (quitquitquit). */
  readonly after?: () => void;
}

interface Handler {
  readonly prefix: string;
  readonly help: string;
  /** Envoy's mutates_server_state: only POST is accepted. */
  readonly mutates: boolean;
  readonly params?: readonly (readonly [string, string])[];
  handle(query: URLSearchParams): AdminResponse | Promise<AdminResponse>;
}

const text = (body: string, status = 200): AdminResponse => ({ status, contentType: TEXT, body });
const json = (body: string, status = 200): AdminResponse => ({ status, contentType: JSON_TYPE, body });

/**
 * Envoy evaluates `filter=` with RE2, which runs in linear time. JavaScript's RegExp backtracks, so a
 * pattern like `^(a+)+$` could stall the event loop that also serves traffic: constructs that can
 * backtrack catastrophically (a quantified group containing a quantifier, backreferences, lookaround)
 * are refused, like a regex RE2 would reject.
 */
const BACKTRACKING_RISK = /\((?:[^()\\]|\\.)*[*+?}](?:[^()\\]|\\.)*\)\s*[*+?{]|\\[1-9]|\(\?<?[=!]/;

/** `filter=` as a regex, or the 400 response Envoy gives for a bad one. */
function filterParam(query: URLSearchParams): { filter: RegExp | null } | { error: AdminResponse } {
  const f = query.get('filter');
  if (f === null || f === '') return { filter: null };
  if (f.length > 1024 || BACKTRACKING_RISK.test(f)) return { error: text('Invalid re2 regex\n', 400) };
  try {
    return { filter: new RegExp(f) };
  } catch {
    return { error: text('Invalid re2 regex\n', 400) };
  }
}

/** `ip:port` → SocketAddress JSON (the last ':' separates the port, so IPv6 works unbracketed). */
function socketAddressJson(address: string): Record<string, unknown> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { socket_address: { address: host, port_value: Number(address.slice(colon + 1)) } };
}

const LOGGING_USAGE =
  'usage: /logging?<name>=<level> (change single level)\n' +
  'usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n' +
  'usage: /logging?level=<level> (change all levels)\n' +
  `levels: ${LOG_LEVELS.join(' ')} \n`;

/** Applies a POST /logging query (Envoy's LogsHandler::changeLogLevel); returns an error message or null. */
function changeLogLevel(ctx: AdminContext, query: URLSearchParams): string | null {
  const params = [...query];
  if (params.length === 0) return null;
  if (params.length !== 1) return 'invalid number of parameters';
  const [key, value] = params[0]!;
  if (key === 'level') {
    const level = parseLogLevel(value);
    if (!level) return 'unknown logger level';
    ctx.logger.setLevel(level);
    return null;
  }
  // paths=name:level,... (Envoy's separator); name=level is accepted too.
  const pairs = key === 'paths' ? value.split(',').map((p) => p.split(/[:=]/)) : [[key, value]];
  const known = new Set(ctx.logger.levels().map(([n]) => n));
  const changes: [string, LogLevel][] = [];
  for (const [name = '', lvl = ''] of pairs) {
    const level = parseLogLevel(lvl);
    if (!level) return 'unknown logger level';
    if (!known.has(name)) return 'unknown logger name';
    changes.push([name, level]);
  }
  for (const [name, level] of changes) ctx.logger.setComponentLevel(name, level);
  return null;
}

function handlers(ctx: AdminContext): Handler[] {
  const prometheus = new PrometheusRenderer(ctx.stats, { customNamespaces: ctx.prometheusCustomNamespaces ?? [] });
  const renderPrometheus = async (query: URLSearchParams): Promise<AdminResponse> => {
    const f = filterParam(query);
    if ('error' in f) return f.error;
    const body = await prometheus.render({ usedOnly: query.has('usedonly'), filter: f.filter });
    return { status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body };
  };
  const list: Handler[] = [
    {
      prefix: '/', help: 'Admin home page', mutates: false,
      handle: () => ({ status: 200, contentType: HTML, body: homePage(list) }),
    },
    {
      prefix: '/certs', help: 'print certs on machine', mutates: false,
      handle: () => json(JSON.stringify(ctx.certs?.() ?? { certificates: [] }, null, 1)),
    },
    {
      prefix: '/clusters', help: 'upstream cluster status', mutates: false,
      params: [['format', 'File format to use; One of (text, json)']],
      handle: (q) => (q.get('format') === 'json'
        ? json(renderClustersJson(ctx.clusterManager.all()))
        : text(renderClustersText(ctx.clusterManager.all()))),
    },
    {
      prefix: '/config_dump', help: 'dump current Envoy configs (experimental)', mutates: false,
      params: [['include_eds', 'Dump currently loaded configuration including EDS']],
      handle: (query) => json(JSON.stringify(ctx.configDump({ includeEds: query.has('include_eds') }), null, 1)),
    },
    {
      prefix: '/healthcheck/fail', help: 'cause the server to fail health checks', mutates: true,
      handle: () => { ctx.setHealthCheckFailing(true); return text('OK\n'); },
    },
    {
      prefix: '/healthcheck/ok', help: 'cause the server to pass health checks', mutates: true,
      handle: () => { ctx.setHealthCheckFailing(false); return text('OK\n'); },
    },
    {
      prefix: '/help', help: 'print out list of admin commands', mutates: false,
      handle: () => text(helpText(list)),
    },
    {
      prefix: '/listeners', help: 'print listener info', mutates: false,
      params: [['format', 'File format to use; One of (text, json)']],
      handle: (q) => {
        const ls = ctx.listeners();
        if (q.get('format') === 'json') {
          return json(JSON.stringify({ listener_statuses: ls.map((l) => ({ name: l.name, local_address: socketAddressJson(l.address) })) }, null, 1));
        }
        return text(ls.map((l) => `${l.name}::${l.address}\n`).join(''));
      },
    },
    {
      prefix: '/logging', help: 'query/change logging levels', mutates: true,
      params: [
        ['paths', 'Change multiple logging levels by setting to <logger_name1>:<desired_level1>,<logger_name2>:<desired_level2>.'],
        ['level', `desired logging level, this will change all loggers's level; One of (, ${LOG_LEVELS.join(', ')})`],
      ],
      handle: (q) => {
        const error = changeLogLevel(ctx, q);
        const active = `active loggers:\n${ctx.logger.levels().map(([n, l]) => `  ${n}: ${l}\n`).join('')}\n`;
        return error === null ? text(active) : text(`error: ${error}\n\n${LOGGING_USAGE}${active}`, 404);
      },
    },
    {
      prefix: '/quitquitquit', help: 'exit the server', mutates: true,
      handle: () => ({ ...text('OK\n'), after: () => ctx.quit() }),
    },
    {
      prefix: '/ready', help: 'print server state, return 200 if LIVE, otherwise return 503', mutates: false,
      handle: () => {
        const state = ctx.state();
        return text(`${state}\n`, state === 'LIVE' ? 200 : 503);
      },
    },
    {
      prefix: '/reset_counters', help: 'reset all counters to zero', mutates: true,
      handle: () => { ctx.stats.resetCounters(); return text('OK\n'); },
    },
    {
      prefix: '/server_info', help: 'print server version/status information', mutates: false,
      handle: () => {
        const info = ctx.serverInfo();
        const uptime = `${info.uptimeSeconds}s`;
        return json(JSON.stringify({
          version: info.version,
          state: ctx.state(),
          // nodevoy has no hot restart; Envoy prints "disabled" when it is off.
          hot_restart_version: 'disabled',
          command_line_options: info.commandLineOptions,
          node: info.node,
          uptime_current_epoch: uptime,
          uptime_all_epochs: uptime,
        }, null, 1));
      },
    },
    {
      prefix: '/stats', help: 'print server stats', mutates: false,
      params: [
        ['usedonly', 'Only include stats that have been written by system since restart'],
        ['filter', 'Regular expression (Google re2) for filtering stats'],
        ['format', 'Format to use; One of (text, json, prometheus)'],
        ['type', `Stat types to include.; One of (${STATS_TYPES.join(', ')})`],
      ],
      handle: (q) => {
        const format = q.get('format') ?? 'text';
        if (format === 'prometheus') return renderPrometheus(q);
        if (format !== 'text' && format !== 'json') return text(`format=${format} is not supported by nodevoy (text, json, prometheus)\n`, 400);
        const f = filterParam(q);
        if ('error' in f) return f.error;
        const type = (q.get('type') ?? 'All') as StatsType;
        if (!STATS_TYPES.includes(type)) return text(`invalid type=${type}; One of (${STATS_TYPES.join(', ')})\n`, 400);
        const query = { usedOnly: q.has('usedonly'), filter: f.filter, type };
        return format === 'json' ? json(renderStatsJson(ctx.stats, query)) : text(renderStatsText(ctx.stats, query));
      },
    },
    {
      prefix: '/stats/prometheus', help: 'print server stats in prometheus format', mutates: false,
      params: [
        ['usedonly', 'Only include stats that have been written by system since restart'],
        ['filter', 'Regular expression (Google re2) for filtering stats'],
      ],
      handle: renderPrometheus,
    },
  ];
  return list;
}

/** Envoy's getHelp(): handlers in alphabetical order, `(POST)` on mutating ones, then their params. */
function helpText(list: readonly Handler[]): string {
  let out = 'admin commands are:\n';
  for (const h of [...list].sort((a, b) => (a.prefix < b.prefix ? -1 : 1))) {
    out += `  ${h.prefix}${h.mutates ? ' (POST)' : ''}: ${h.help}\n`;
    for (const [id, help] of h.params ?? []) out += `      ${id}: ${help}\n`;
  }
  return out;
}

function homePage(list: readonly Handler[]): string {
  const rows = [...list].filter((h) => h.prefix !== '/').sort((a, b) => (a.prefix < b.prefix ? -1 : 1)).map((h) => {
    const link = h.mutates
      ? `<form action="${h.prefix}" method="post"><button>${h.prefix}</button></form>`
      : `<a href="${h.prefix}">${h.prefix}</a>`;
    return `<tr><td>${link}</td><td>${h.help}</td></tr>`;
  });
  return `<!DOCTYPE html>\n<html><head><title>nodevoy admin</title></head><body>\n<h1>nodevoy admin</h1>\n` +
    `<table>\n${rows.join('\n')}\n</table>\n</body></html>\n`;
}

async function dispatch(table: readonly Handler[], req: IncomingMessage): Promise<AdminResponse> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const handler = table.find((h) => h.prefix === url.pathname);
  if (!handler) return text(`invalid path. ${helpText(table)}`, 404);
  const method = req.method ?? 'GET';
  if (handler.mutates && method !== 'POST') {
    // Current Envoy (AdminImpl::makeRequest) answers 405 with this text.
    return text(`Method ${method} not allowed, POST required.`, 405);
  }
  return handler.handle(url.searchParams);
}

function send(res: ServerResponse, r: AdminResponse): void {
  res.writeHead(r.status, {
    'content-type': r.contentType,
    'cache-control': 'no-cache, max-age=0',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(r.body),
  });
  res.end(r.body, () => r.after?.());
}

/** Starts the admin listener; resolves once it is bound. */
export function startAdminServer(address: { host: string; port: number }, ctx: AdminContext): Promise<AdminServer> {
  const table = handlers(ctx);
  const log = ctx.logger.get('admin');
  const server = createServer((req, res) => {
    // Request bodies are not used by any endpoint; drain them so keep-alive works.
    req.resume();
    dispatch(table, req).then((r) => send(res, r), (err: unknown) => {
      log.error(`admin ${req.url ?? ''}: ${err instanceof Error ? err.message : String(err)}`);
      send(res, text('internal error\n', 500));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
