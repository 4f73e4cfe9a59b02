// The route table of an HTTP connection manager configured with `rds`: a RouteConfig whose table is
// swapped whole when RDS delivers a new RouteConfiguration of its name (requests already routed keep
// the Route they got). Until the first one arrives it routes nothing, like Envoy's NullConfigImpl (404 NR).

import type { RequestHeaders } from '../http/headers.ts';
import type { RouteConfigurationWire } from './route-config-schema.ts';
import type { Route, RouteConfig } from './types.ts';

/** Envoy's NullConfigImpl: no virtual host matches, every request gets 404 NR. */
export const NULL_ROUTE_CONFIG: RouteConfig = Object.freeze({ name: '', route: () => null });

export class RdsRouteConfigProvider implements RouteConfig {
  /** Rds.route_config_name. */
  readonly name: string;
  private table: RouteConfig = NULL_ROUTE_CONFIG;
  private headers: readonly string[] = [];
  private readonly firstUpdate: Promise<void>;
  private markReady: () => void = () => {};

  constructor(name: string) {
    this.name = name;
    this.firstUpdate = new Promise((resolve) => { this.markReady = resolve; });
  }

  route(request: RequestHeaders): Route | null {
    return this.table.route(request);
  }

  /** RouteConfiguration.internal_only_headers of the table in force (lower-cased). */
  get internalOnlyHeaders(): readonly string[] {
    return this.headers;
  }

  /** Settles when the first RouteConfiguration arrived (listener warming). */
  ready(): Promise<void> {
    return this.firstUpdate;
  }

  /** Swaps in the table built from a validated RouteConfiguration `wire`. */
  update(table: RouteConfig, wire: RouteConfigurationWire): void {
    this.table = table;
    this.headers = (wire.internal_only_headers ?? []).map((h) => h.toLowerCase());
    this.markReady();
  }
}
