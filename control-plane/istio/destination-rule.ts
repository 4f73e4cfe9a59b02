// Schema of the DestinationRule spec (networking.istio.io v1alpha3/v1beta1/v1, one shape): subsets by
// labels and traffic policies (load balancer, connection pool → circuit breakers, outlier detection),
// per subset and per port. TLS origination is not implemented here (the mTLS issue owns it).

import { z } from 'zod';
import { istioDuration, istioEnum, istioMessage, istioUint32, labelsSchema, portNumber } from './istio-kit.ts';
import { PortSelectorSchema } from './virtual-service.ts';

const NS = 'istio.networking.v1';

const HTTPCookieSchema = istioMessage(`${NS}.LoadBalancerSettings.ConsistentHashLB.HTTPCookie`, {
  name: z.string().min(1, 'cookie name is required'),
  path: z.string().optional(),
  /** Absent: a session cookie is generated when missing (Envoy's hash_policy.cookie.ttl semantics). */
  ttl: istioDuration().optional(),
}, { unimplemented: ['attributes'] });

const ConsistentHashSchema = istioMessage(`${NS}.LoadBalancerSettings.ConsistentHashLB`, {
  httpHeaderName: z.string().min(1).optional(),
  httpCookie: HTTPCookieSchema.optional(),
  useSourceIp: z.boolean().optional(),
}, { unimplemented: ['httpQueryParameterName', 'ringHash', 'maglev', 'minimumRingSize'] })
  .superRefine((h, ctx) => {
    const keys = (['httpHeaderName', 'httpCookie', 'useSourceIp'] as const).filter((k) => h[k] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `consistentHash needs exactly one of httpHeaderName, httpCookie, useSourceIp (found ${keys.length === 0 ? 'none' : keys.join(', ')})` });
    }
  });

/** LEAST_CONN is Istio's deprecated spelling of LEAST_REQUEST. */
const SimpleLBSchema = istioEnum(`${NS}.LoadBalancerSettings.SimpleLB`,
  ['UNSPECIFIED', 'LEAST_CONN', 'LEAST_REQUEST', 'RANDOM', 'ROUND_ROBIN'], ['PASSTHROUGH']);

export const LoadBalancerSettingsSchema = istioMessage(`${NS}.LoadBalancerSettings`, {
  simple: SimpleLBSchema.optional(),
  consistentHash: ConsistentHashSchema.optional(),
}, { unimplemented: ['localityLbSetting', 'warmupDurationSecs', 'warmup'] })
  .superRefine((lb, ctx) => {
    if (lb.simple !== undefined && lb.consistentHash !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'loadBalancer takes one of simple, consistentHash, not both' });
    }
  });

const TCPSettingsSchema = istioMessage(`${NS}.ConnectionPoolSettings.TCPSettings`, {
  maxConnections: istioUint32.optional(),
  connectTimeout: istioDuration(1).optional(),
}, { unimplemented: ['tcpKeepalive', 'maxConnectionDuration', 'idleTimeout'] });

const HTTPSettingsSchema = istioMessage(`${NS}.ConnectionPoolSettings.HTTPSettings`, {
  http1MaxPendingRequests: istioUint32.optional(),
  http2MaxRequests: istioUint32.optional(),
  maxRequestsPerConnection: istioUint32.optional(),
  maxRetries: istioUint32.optional(),
  idleTimeout: istioDuration(1).optional(),
  /** Parsed so the seed YAML is accepted; nodevoy's upstreams speak HTTP/1.1 (UPGRADE is translation's concern). */
  h2UpgradePolicy: istioEnum(`${NS}.ConnectionPoolSettings.HTTPSettings.H2UpgradePolicy`, ['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
}, { unimplemented: ['useClientProtocol', 'maxConcurrentStreams'] });

const ConnectionPoolSchema = istioMessage(`${NS}.ConnectionPoolSettings`, {
  tcp: TCPSettingsSchema.optional(),
  http: HTTPSettingsSchema.optional(),
});

const percent = (field: string) => z.number().int().min(0, `${field} must be in [0, 100]`).max(100, `${field} must be in [0, 100]`);

const OutlierDetectionSchema = istioMessage(`${NS}.OutlierDetection`, {
  consecutive5xxErrors: istioUint32.optional(),
  consecutiveGatewayErrors: istioUint32.optional(),
  interval: istioDuration(1).optional(),
  baseEjectionTime: istioDuration(1).optional(),
  maxEjectionPercent: percent('maxEjectionPercent').optional(),
  minHealthPercent: percent('minHealthPercent').optional(),
}, { unimplemented: ['consecutiveErrors', 'consecutiveLocalOriginFailures', 'splitExternalLocalOriginErrors'] });

const policyFields = {
  loadBalancer: LoadBalancerSettingsSchema.optional(),
  connectionPool: ConnectionPoolSchema.optional(),
  outlierDetection: OutlierDetectionSchema.optional(),
};

const PortTrafficPolicySchema = istioMessage(`${NS}.TrafficPolicy.PortTrafficPolicy`, {
  port: PortSelectorSchema,
  ...policyFields,
}, { unimplemented: ['tls'] });

export const TrafficPolicySchema = istioMessage(`${NS}.TrafficPolicy`, {
  ...policyFields,
  portLevelSettings: z.array(PortTrafficPolicySchema).default([]),
}, { unimplemented: ['tls', 'tunnel', 'proxyProtocol', 'retryBudget'] })
  .superRefine((p, ctx) => {
    const seen = new Set<number>();
    p.portLevelSettings.forEach((s, i) => {
      if (seen.has(s.port.number)) ctx.addIssue({ code: 'custom', path: ['portLevelSettings', i, 'port', 'number'], message: `port ${s.port.number} has two portLevelSettings` });
      seen.add(s.port.number);
    });
  });

const SubsetSchema = istioMessage(`${NS}.Subset`, {
  name: z.string().min(1, 'subset name is required'),
  labels: labelsSchema.default({}),
  trafficPolicy: TrafficPolicySchema.optional(),
});

export const DestinationRuleSpecSchema = istioMessage(`${NS}.DestinationRule`, {
  host: z.string().min(1, 'a DestinationRule needs a host'),
  trafficPolicy: TrafficPolicySchema.optional(),
  subsets: z.array(SubsetSchema).default([]),
}, { unimplemented: ['exportTo', 'workloadSelector'] })
  .superRefine((dr, ctx) => {
    const seen = new Set<string>();
    dr.subsets.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['subsets', i, 'name'], message: `duplicate subset name "${s.name}"` });
      seen.add(s.name);
    });
  });

export type DestinationRuleSpec = z.output<typeof DestinationRuleSpecSchema>;
export type TrafficPolicy = z.output<typeof TrafficPolicySchema>;
export type Subset = DestinationRuleSpec['subsets'][number];
export type LoadBalancerSettings = z.output<typeof LoadBalancerSettingsSchema>;
