// Registers every implemented lb_policy. Import this module (not the policy files) to make them available.

import './round-robin.ts';
import './least-request.ts';
import './random.ts';
import './ring-hash.ts';

export { loadBalancerFactory } from './registry.ts';
export type { LoadBalancer, LoadBalancerFactory } from './types.ts';
