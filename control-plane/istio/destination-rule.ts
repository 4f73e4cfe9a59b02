// Schema of the DestinationRule spec (networking.istio.io v1alpha3/v1beta1/v1, one shape): subsets by
// labels and traffic policies (load balancer, connection pool → circuit breakers, outlier detection),
// per subset and per port, and TLS origination (ClientTLSSettings: ISTIO_MUTUAL, SIMPLE/MUTUAL with files).

import { z } from 'zod';
import { istioDuration, istioEnum, istioMessage, istioUint32, labelsSchema } from './istio-kit.ts';
import { PortSelectorSchema } from './virtual-service.ts';

const NS = 'istio.networking.v1';

const RingHashSchema = istioMessage(`${NS}.LoadBalancerSettings.RingHash`, {
  /** 0 or absent: Envoy's default (1024). */
  minimumRingSize: istioUint32.optional(),
});

/**
 * httpCookie and httpQueryParameterName need Envoy hash policies nodevoy's router does not implement
 * (RouteAction.HashPolicy cookie / query_parameter); maglev needs the MAGLEV load balancer.
 */
const UNIMPLEMENTED_HASH_KEYS = ['httpCookie', 'httpQueryParameterName', 'maglev'];

const ConsistentHashSchema = istioMessage(`${NS}.LoadBalancerSettings.ConsistentHashLB`, {
  httpHeaderName: z.string().min(1).optional(),
  useSourceIp: z.boolean().optional(),
  ringHash: RingHashSchema.optional(),
  /** Deprecated spelling of ringHash.minimumRingSize. */
  minimumRingSize: istioUint32.optional(),
}, { unimplemented: UNIMPLEMENTED_HASH_KEYS })
  .superRefine((h, ctx) => {
    const keys = (['httpHeaderName', 'useSourceIp'] as const).filter((k) => h[k] !== undefined);
    // An unimplemented hash key is reported as such; "found none" would only repeat it.
    const unimplementedKey = Object.keys(h).some((k) => UNIMPLEMENTED_HASH_KEYS.includes(k));
    if (keys.length > 1 || (keys.length === 0 && !unimplementedKey)) {
      ctx.addIssue({ code: 'custom', message: `consistentHash needs exactly one of httpHeaderName, useSourceIp (found ${keys.length === 0 ? 'none' : keys.join(', ')})` });
    }
    if (h.ringHash !== undefined && h.minimumRingSize !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['minimumRingSize'], message: 'minimumRingSize is the deprecated form of ringHash.minimumRingSize: set one of them' });
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

/**
 * ClientTLSSettings, as Istio's validateTLS checks it: MUTUAL needs clientCertificate and privateKey (files
 * here: credentialName needs Kubernetes secrets); ISTIO_MUTUAL and DISABLE take no certificate fields.
 */
export const ClientTlsSettingsSchema = istioMessage(`${NS}.ClientTLSSettings`, {
  mode: istioEnum(`${NS}.ClientTLSSettings.TLSmode`, ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).default('DISABLE'),
  clientCertificate: z.string().min(1).optional(),
  privateKey: z.string().min(1).optional(),
  caCertificates: z.string().min(1).optional(),
  subjectAltNames: z.array(z.string().min(1)).default([]),
  sni: z.string().min(1).max(255).optional(),
  insecureSkipVerify: z.boolean().optional(),
}, { unimplemented: ['credentialName', 'caCrl'] }).superRefine((t, ctx) => {
  const files = (['clientCertificate', 'privateKey', 'caCertificates'] as const).filter((f) => t[f] !== undefined);
  if (t.mode === 'MUTUAL') {
    for (const f of ['clientCertificate', 'privateKey'] as const) {
      if (t[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f} is required for mode MUTUAL (credentialName is not implemented)` });
    }
  } else if (t.mode === 'ISTIO_MUTUAL' || t.mode === 'DISABLE') {
    for (const f of files) ctx.addIssue({ code: 'custom', path: [f], message: `${f} cannot be set with mode ${t.mode}` });
  } else {
    for (const f of ['clientCertificate', 'privateKey'] as const) {
      if (t[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f} is only used with mode MUTUAL` });
    }
  }
  if (t.insecureSkipVerify === true && t.caCertificates !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['insecureSkipVerify'], message: 'insecureSkipVerify and caCertificates cannot both be set' });
  }
});

export type ClientTlsSettings = z.output<typeof ClientTlsSettingsSchema>;

const policyFields = {
  loadBalancer: LoadBalancerSettingsSchema.optional(),
  connectionPool: ConnectionPoolSchema.optional(),
  outlierDetection: OutlierDetectionSchema.optional(),
  tls: ClientTlsSettingsSchema.optional(),
};

const PortTrafficPolicySchema = istioMessage(`${NS}.TrafficPolicy.PortTrafficPolicy`, {
  port: PortSelectorSchema,
  ...policyFields,
});

export const TrafficPolicySchema = istioMessage(`${NS}.TrafficPolicy`, {
  ...policyFields,
  portLevelSettings: z.array(PortTrafficPolicySchema).default([]),
}, { unimplemented: ['tunnel', 'proxyProtocol', 'retryBudget'] })
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
export type ConsistentHash = NonNullable<LoadBalancerSettings['consistentHash']>;
export type ConnectionPool = NonNullable<TrafficPolicy['connectionPool']>;
export type OutlierDetection = NonNullable<TrafficPolicy['outlierDetection']>;
