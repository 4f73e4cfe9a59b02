// RDS validation with a subscription's memory (ValidationMemory): a RouteConfiguration is parsed one virtual
// host at a time, and a virtual host whose wire JSON the subscription parsed in its previous response is reused
// as parsed then. A weight edit in a table of hundreds of virtual hosts costs one virtual host's parse, not the table's.
// Errors carry the same paths as a whole-table parse (`resources[i].virtual_hosts[j]...`, snake_case either way).

import type { Validate } from '../../control-client/types.ts';
import { fail, joinPath, ok, type ConfigError, type Result } from '../common/result.ts';
import { parseWith } from '../config/schema-kit.ts';
import { RouteConfigurationSchema, VirtualHostSchema, type RouteConfigurationWire, type VirtualHostWire } from '../route/route-config-schema.ts';

/** The wire names of RouteConfiguration.virtual_hosts (proto JSON takes both). */
const VIRTUAL_HOSTS_KEYS = ['virtual_hosts', 'virtualHosts'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The memory's key: wire JSON of a virtual host → what it parsed to, from the previous response only. */
const MEMORY_KEY = 'route-table-validator.virtual_hosts';

/** `checkName` adds the resource-level rules a whole-table parse would (xDS resources need a name). */
export function incrementalRouteValidator(checkName: (table: RouteConfigurationWire, root: string) => ConfigError | undefined): Validate<RouteConfigurationWire> {
  return (resources, accepted, memory) => {
    const known = (memory?.get(MEMORY_KEY) as Map<string, VirtualHostWire> | undefined) ?? new Map<string, VirtualHostWire>();
    const seen = new Map<string, VirtualHostWire>();
    const errors: ConfigError[] = [];
    const parsed: RouteConfigurationWire[] = [];
    resources.forEach((resource, i) => {
      const before = accepted?.[i];
      if (before !== undefined) return void parsed.push(before);
      const root = `resources[${i}]`;
      const table = parseTable(resource, root, known, seen);
      if (!table.ok) return void errors.push(...table.errors);
      const bad = checkName(table.value, root);
      if (bad) errors.push(bad);
      else parsed.push(table.value);
    });
    memory?.set(MEMORY_KEY, seen);
    return errors.length > 0 ? fail(errors) : ok(parsed);
  };
}

function parseTable(resource: unknown, root: string, known: ReadonlyMap<string, VirtualHostWire>, seen: Map<string, VirtualHostWire>): Result<RouteConfigurationWire> {
  const key = isObject(resource) ? VIRTUAL_HOSTS_KEYS.find((k) => Array.isArray(resource[k])) : undefined;
  // Not the usual shape (or both spellings at once): the whole-table parse reports it.
  if (key === undefined || VIRTUAL_HOSTS_KEYS.every((k) => k in (resource as object))) return parseWith(RouteConfigurationSchema, resource, root);
  const { [key]: hosts, ...rest } = resource as Record<string, unknown>;
  const errors: ConfigError[] = [];
  const table = parseWith(RouteConfigurationSchema, rest, root);
  if (!table.ok) errors.push(...table.errors);
  const virtualHosts = (hosts as unknown[]).map((host, j) => {
    const wire = JSON.stringify(host);
    let vh = known.get(wire) ?? seen.get(wire);
    if (vh === undefined) {
      const r = parseWith(VirtualHostSchema, host, joinPath(joinPath(root, 'virtual_hosts'), j));
      if (!r.ok) return void errors.push(...r.errors);
      vh = r.value;
    }
    seen.set(wire, vh);
    return vh;
  });
  if (errors.length > 0 || !table.ok) return fail(errors);
  return ok({ ...table.value, virtual_hosts: virtualHosts as VirtualHostWire[] });
}
