// The xDS resource types the proxy registers into control-client: Listener (LDS), Cluster (CDS),
// RouteConfiguration (RDS), ClusterLoadAssignment (EDS) and Secret (SDS), with Envoy's type URLs and REST paths
// (envoy-compat.md §10). Each resource is checked against the proxy's wire schema, every error rooted at `resources[i]`.

import type { z } from 'zod';
import type { ResourceType } from '../../control-client/types.ts';
import { fail, joinPath, ok } from '../common/result.ts';
import type { ConfigError, Result } from '../common/result.ts';
import { parseWith } from '../config/schema-kit.ts';
import { SdsSecretSchema, SECRET_TYPE_URL, type LoadedSecret } from '../secrets/secret-schema.ts';
import { withSecrets, type SecretLookup } from '../secrets/secret-scope.ts';
import { ListenerSchema } from '../listener/listener-schema.ts';
import { incrementalRouteValidator } from './route-table-validator.ts';
import type { ListenerWire } from '../listener/listener-schema.ts';
import { RouteConfigurationSchema } from '../route/route-config-schema.ts';
import type { RouteConfigurationWire } from '../route/route-config-schema.ts';
import { ClusterSchema } from '../upstream/cluster-schema.ts';
import type { ClusterWire } from '../upstream/cluster-schema.ts';
import { ClusterLoadAssignmentSchema } from '../upstream/load-assignment-schema.ts';
import type { ClusterLoadAssignmentWire } from '../upstream/load-assignment-schema.ts';

interface WireTypeSpec<T> {
  readonly typeUrl: string;
  readonly restPath: string;
  readonly stateOfTheWorld: boolean;
  readonly schema: z.ZodType<T, unknown>;
  /** The field holding the xDS resource name (`name`, or `cluster_name` for ClusterLoadAssignment). */
  readonly nameField: string;
  readonly nameOf: (resource: T) => string | undefined;
}

/**
 * A ResourceType whose `validate` parses every resource with `schema`, except those the subscription already
 * accepted with the same wire JSON (returned as they were). xDS keys resources by name (SotW
 * removal, duplicate detection, RDS/EDS subscriptions), so a resource without one is rejected even where the
 * static bootstrap allows it (Listener.name and RouteConfiguration.name are optional there).
 */
function wireResourceType<T>(spec: WireTypeSpec<T>): ResourceType<T> {
  return {
    typeUrl: spec.typeUrl,
    restPath: spec.restPath,
    stateOfTheWorld: spec.stateOfTheWorld,
    validate(resources, accepted): Result<readonly T[]> {
      const errors: ConfigError[] = [];
      const parsed: T[] = [];
      resources.forEach((resource, i) => {
        const before = accepted?.[i];
        if (before !== undefined) return void parsed.push(before);
        const root = `resources[${i}]`;
        const r = parseWith(spec.schema, resource, root);
        const unnamed = r.ok ? missingName(spec, r.value, root) : undefined;
        if (!r.ok) errors.push(...r.errors);
        else if (unnamed) errors.push(unnamed);
        else parsed.push(r.value);
      });
      return errors.length > 0 ? fail(errors) : ok(parsed);
    },
    // validate() guarantees a non-empty name on every resource it returns.
    name: (resource) => spec.nameOf(resource) ?? '',
  };
}

/** The error for a resource without a name (xDS keys resources by it), or undefined. */
function missingName<T>(spec: Pick<WireTypeSpec<T>, 'nameOf' | 'nameField'>, resource: T, root: string): ConfigError | undefined {
  if ((spec.nameOf(resource) ?? '') !== '') return undefined;
  return { path: joinPath(root, spec.nameField), kind: 'invalid', message: 'an xDS resource must have a non-empty name: the client keys resources by it' };
}

/** LDS: state of the world. A Listener's HCM normally takes its routes from `rds`. */
export const listenerResourceType: ResourceType<ListenerWire> = wireResourceType({
  typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  restPath: 'listeners',
  stateOfTheWorld: true,
  schema: ListenerSchema,
  nameField: 'name',
  nameOf: (l) => l.name,
});

/** CDS: state of the world. */
export const clusterResourceType: ResourceType<ClusterWire> = wireResourceType({
  typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  restPath: 'clusters',
  stateOfTheWorld: true,
  schema: ClusterSchema,
  nameField: 'name',
  nameOf: (c) => c.name,
});

const ROUTE_CONFIGURATION_SPEC: WireTypeSpec<RouteConfigurationWire> = {
  typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  restPath: 'routes',
  stateOfTheWorld: false,
  schema: RouteConfigurationSchema,
  nameField: 'name',
  nameOf: (rc) => rc.name,
};

/**
 * RDS: responses carry changed resources only; removal is implied by listeners no longer naming them. With a
 * subscription's memory, only the virtual hosts that changed since its previous response are parsed again
 * (route-table-validator.ts).
 */
export const routeConfigurationResourceType: ResourceType<RouteConfigurationWire> = {
  ...wireResourceType(ROUTE_CONFIGURATION_SPEC),
  validate: incrementalRouteValidator((table, root) => missingName(ROUTE_CONFIGURATION_SPEC, table, root)),
};

/** EDS: keyed by `cluster_name`; responses carry changed resources only. */
export const clusterLoadAssignmentResourceType: ResourceType<ClusterLoadAssignmentWire> = wireResourceType({
  typeUrl: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  restPath: 'endpoints',
  stateOfTheWorld: false,
  schema: ClusterLoadAssignmentSchema,
  nameField: 'cluster_name',
  nameOf: (cla) => cla.cluster_name,
});

/**
 * SDS: responses carry changed resources only; a Secret no TLS context names any more is unsubscribed. Its
 * material is loaded and checked by validate (PEMs usually inline), so a bad Secret is NACKed with its paths.
 */
export const secretResourceType: ResourceType<LoadedSecret> = wireResourceType({
  typeUrl: SECRET_TYPE_URL,
  restPath: 'secrets',
  stateOfTheWorld: false,
  schema: SdsSecretSchema,
  nameField: 'name',
  nameOf: (s) => s.wire.name,
});

/** `type` whose resources resolve the secrets their TLS contexts name (SdsSecretConfig) against `secrets`. */
export function withSecretLookup<T>(type: ResourceType<T>, secrets: SecretLookup | undefined): ResourceType<T> {
  if (!secrets) return type;
  return { ...type, validate: (resources, accepted, memory) => withSecrets(secrets, () => type.validate(resources, accepted, memory)) };
}
