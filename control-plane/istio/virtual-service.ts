// Schema of the VirtualService spec (networking.istio.io v1alpha3/v1beta1/v1, one shape): HTTP routes
// with their matches, weighted destinations, redirect/rewrite, timeout, retries, fault, mirror and header
// manipulation, checked as Istio's validation checks them. TCP/TLS routes and CORS are not implemented.

import { z } from 'zod';
import {
  PercentSchema, StringMatchSchema, istioDuration, istioMessage, labelsSchema, portNumber,
} from './istio-kit.ts';

const NS = 'istio.networking.v1';

export const PortSelectorSchema = istioMessage(`${NS}.PortSelector`, { number: portNumber });

/** istio.networking.v1.Destination: a registry host, optionally a DestinationRule subset and a port. */
export const DestinationSchema = istioMessage(`${NS}.Destination`, {
  host: z.string().min(1, 'destination host is required'),
  subset: z.string().min(1).optional(),
  port: PortSelectorSchema.optional(),
});

const HeaderOperationsSchema = istioMessage(`${NS}.Headers.HeaderOperations`, {
  set: z.record(z.string(), z.string()).optional(),
  add: z.record(z.string(), z.string()).optional(),
  remove: z.array(z.string().min(1)).optional(),
});

export const HeadersSchema = istioMessage(`${NS}.Headers`, {
  request: HeaderOperationsSchema.optional(),
  response: HeaderOperationsSchema.optional(),
});

const HTTPMatchRequestSchema = istioMessage(`${NS}.HTTPMatchRequest`, {
  name: z.string().optional(),
  uri: StringMatchSchema.optional(),
  method: StringMatchSchema.optional(),
  authority: StringMatchSchema.optional(),
  headers: z.record(z.string(), StringMatchSchema).optional(),
  queryParams: z.record(z.string(), StringMatchSchema).optional(),
  ignoreUriCase: z.boolean().optional(),
  port: portNumber.optional(),
  sourceLabels: labelsSchema.optional(),
  withoutHeaders: z.record(z.string(), StringMatchSchema).optional(),
}, { unimplemented: ['scheme', 'gateways', 'sourceNamespace', 'statPrefix'] });

const HTTPRouteDestinationSchema = istioMessage(`${NS}.HTTPRouteDestination`, {
  destination: DestinationSchema,
  // Weights are relative; a lone destination gets all traffic whatever its weight (Istio's doc).
  weight: z.number().int().min(0, 'weight must be >= 0').optional(),
  headers: HeadersSchema.optional(),
});

const HTTPRedirectSchema = istioMessage(`${NS}.HTTPRedirect`, {
  uri: z.string().optional(),
  authority: z.string().optional(),
  port: portNumber.optional(),
  scheme: z.string().optional(),
  redirectCode: z.number().int().refine((c) => [301, 302, 303, 307, 308].includes(c),
    'redirectCode must be one of 301, 302, 303, 307, 308').optional(),
}, { unimplemented: ['derivePort'] });

const HTTPRewriteSchema = istioMessage(`${NS}.HTTPRewrite`, {
  uri: z.string().optional(),
  authority: z.string().optional(),
}, { unimplemented: ['uriRegexRewrite'] });

/** Envoy's retry_on tokens Istio's validation accepts (plus numeric status codes → retriable-status-codes). */
export const RETRY_ON_TOKENS: ReadonlySet<string> = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  // gRPC tokens (x-envoy-retry-grpc-on).
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);

const retryOnSchema = z.string().transform((text, ctx) => {
  const tokens = text.split(',').map((t) => t.trim());
  for (const t of tokens) {
    if (RETRY_ON_TOKENS.has(t)) continue;
    const code = /^\d+$/.test(t) ? Number(t) : NaN;
    if (code >= 100 && code <= 599) continue;
    ctx.addIssue({ code: 'custom', message: `"${t}" is not a retryOn policy (expected ${[...RETRY_ON_TOKENS].join(', ')} or an HTTP status code)` });
  }
  return tokens;
});

const HTTPRetrySchema = istioMessage(`${NS}.HTTPRetry`, {
  attempts: z.number().int().min(0, 'attempts must be >= 0'),
  perTryTimeout: istioDuration(1).optional(),
  /** Kept as the list of tokens (comma-separated in YAML). */
  retryOn: retryOnSchema.optional(),
  retryRemoteLocalities: z.boolean().optional(),
}, { unimplemented: ['retryIgnorePreviousHosts', 'backoff'] });

const DelaySchema = istioMessage(`${NS}.HTTPFaultInjection.Delay`, {
  fixedDelay: istioDuration(1),
  percentage: PercentSchema.optional(),
}, { unimplemented: ['percent', 'exponentialDelay'] });

const AbortSchema = istioMessage(`${NS}.HTTPFaultInjection.Abort`, {
  httpStatus: z.number().int().min(200, 'httpStatus must be in [200, 599]').max(599, 'httpStatus must be in [200, 599]'),
  percentage: PercentSchema.optional(),
}, { unimplemented: ['grpcStatus', 'http2Error'] });

const HTTPFaultInjectionSchema = istioMessage(`${NS}.HTTPFaultInjection`, {
  delay: DelaySchema.optional(),
  abort: AbortSchema.optional(),
});

const HTTPRouteSchema = istioMessage(`${NS}.HTTPRoute`, {
  name: z.string().optional(),
  match: z.array(HTTPMatchRequestSchema).default([]),
  route: z.array(HTTPRouteDestinationSchema).default([]),
  redirect: HTTPRedirectSchema.optional(),
  rewrite: HTTPRewriteSchema.optional(),
  /** Absent: no route timeout (Istio's default); "0s" disables it too. */
  timeout: istioDuration().optional(),
  /** Absent: Istio's default retry policy applies (translation's concern). */
  retries: HTTPRetrySchema.optional(),
  fault: HTTPFaultInjectionSchema.optional(),
  mirror: DestinationSchema.optional(),
  mirrorPercentage: PercentSchema.optional(),
  headers: HeadersSchema.optional(),
}, { unimplemented: ['corsPolicy', 'directResponse', 'delegate', 'mirrors', 'mirrorPercent'] })
  .superRefine((r, ctx) => {
    // Istio's validateHTTPRoute: a route needs a destination or a redirect, not both.
    if (r.route.length === 0 && r.redirect === undefined) {
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'an HTTP route needs route destinations or a redirect' });
    }
    if (r.route.length > 0 && r.redirect !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['redirect'], message: 'redirect and route destinations cannot both be set' });
    }
    if (r.redirect !== undefined && r.rewrite !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['rewrite'], message: 'rewrite cannot be set together with redirect' });
    }
    if (r.route.length > 1 && r.route.every((d) => (d.weight ?? 0) === 0)) {
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'with several destinations, at least one weight must be > 0' });
    }
  });

export type HTTPRoute = z.output<typeof HTTPRouteSchema>;

export const VirtualServiceSpecSchema = istioMessage(`${NS}.VirtualService`, {
  hosts: z.array(z.string().min(1)).min(1, 'a VirtualService needs at least one host'),
  /** Absent: the rules apply to sidecars ("mesh"). */
  gateways: z.array(z.string().min(1)).default([]),
  http: z.array(HTTPRouteSchema).default([]),
}, { unimplemented: ['tcp', 'tls', 'exportTo'] });

export type VirtualServiceSpec = z.output<typeof VirtualServiceSpecSchema>;
export type HTTPRouteDestination = HTTPRoute['route'][number];
export type HTTPMatchRequest = HTTPRoute['match'][number];
export type Destination = z.output<typeof DestinationSchema>;
export type Headers = z.output<typeof HeadersSchema>;
