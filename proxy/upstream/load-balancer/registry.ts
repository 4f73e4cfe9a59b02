// Registry of load balancer factories keyed by Envoy's lb_policy name. Policies register themselves
// (see index.ts); the cluster looks its policy up here instead of switching on the name.

import type { LbPolicy } from '../cluster-schema.ts';
import type { LoadBalancerFactory } from './types.ts';

const factories = new Map<LbPolicy, LoadBalancerFactory>();

export function registerLoadBalancer(policy: LbPolicy, factory: LoadBalancerFactory): void {
  factories.set(policy, factory);
}

export function loadBalancerFactory(policy: LbPolicy): LoadBalancerFactory {
  const f = factories.get(policy);
  // The schema only admits implemented policies, so a miss means index.ts lost a registration.
  if (!f) throw new Error(`no load balancer registered for lb_policy ${policy}`);
  return f;
}
