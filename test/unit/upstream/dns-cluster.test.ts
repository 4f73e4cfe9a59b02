// STRICT_DNS and LOGICAL_DNS clusters with a fake resolver and FakeClock: refresh, host diffing, timers.

import { describe, expect, it } from 'vitest';
import type { DnsLookupFamily } from '../../../proxy/upstream/cluster-schema.ts';
import { systemResolver, type DnsResolver } from '../../../proxy/upstream/dns-resolver.ts';
import { flush, harness, lbEndpoints } from './helpers.ts';

/** A resolver answering from a per-name script; each call consumes the next answer (Error = failure). */
function scriptedResolver(answers: Record<string, (string[] | Error)[]>) {
  const calls: { name: string; family: DnsLookupFamily }[] = [];
  const resolver: DnsResolver = async (name, family) => {
    calls.push({ name, family });
    const script = answers[name] ?? [];
    const next = script.length > 1 ? script.shift()! : script[0] ?? [];
    if (next instanceof Error) throw next;
    return next;
  };
  return { resolver, calls };
}

function dnsCluster(type: 'STRICT_DNS' | 'LOGICAL_DNS', names: string[], extra: Record<string, unknown> = {}) {
  return {
    name: 'dns', type, dns_refresh_rate: '5s',
    load_assignment: { cluster_name: 'dns', endpoints: [{ lb_endpoints: lbEndpoints(names.map((ip) => ({ ip, port: 8080 }))) }] },
    ...extra,
  };
}

describe('STRICT_DNS', () => {
  it('makes every resolved address a host and re-resolves every dns_refresh_rate, keeping unchanged hosts', async () => {
    const { resolver, calls } = scriptedResolver({ 'svc.local': [['10.0.0.1', '10.0.0.2'], ['10.0.0.2', '10.0.0.3']] });
    const { cluster, clock, stats, cm } = harness(dnsCluster('STRICT_DNS', ['svc.local'], { dns_lookup_family: 'V4_ONLY' }), undefined, resolver);
    expect(cluster.hosts()).toEqual([]);
    await flush();
    const first = cluster.hosts();
    expect(first.map((h) => h.addressString)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(first.map((h) => h.hostname)).toEqual(['svc.local', 'svc.local']);
    expect(calls).toEqual([{ name: 'svc.local', family: 'V4_ONLY' }]);

    clock.advance(4999);
    await flush();
    expect(calls).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(calls).toHaveLength(2);
    const second = cluster.hosts();
    expect(second.map((h) => h.address)).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(second[0]).toBe(first[1]); // same Host (and pool) for the unchanged address
    expect(stats.counter('cluster.dns.membership_change').value()).toBe(2);
    expect(stats.counter('cluster.dns.update_attempt').value()).toBe(2);
    expect(stats.counter('cluster.dns.update_success').value()).toBe(2);

    // The same answer again changes nothing.
    clock.advance(5000);
    await flush();
    expect(cluster.hosts()).toEqual(second);
    expect(stats.counter('cluster.dns.membership_change').value()).toBe(2);
    await cm.close();
  });

  it('keeps the previous hosts when resolution fails', async () => {
    const { resolver } = scriptedResolver({ 'svc.local': [['10.0.0.1'], new Error('ENOTFOUND')] });
    const { cluster, clock, stats, cm } = harness(dnsCluster('STRICT_DNS', ['svc.local']), undefined, resolver);
    await flush();
    clock.advance(5000);
    await flush();
    expect(cluster.hosts().map((h) => h.address)).toEqual(['10.0.0.1']);
    expect(stats.counter('cluster.dns.update_failure').value()).toBe(1);
    await cm.close();
  });

  it('unions the hosts of every endpoint name', async () => {
    const { resolver } = scriptedResolver({ 'a.local': [['10.0.0.1']], 'b.local': [['10.0.1.1', '10.0.1.2']] });
    const { cluster, cm } = harness(dnsCluster('STRICT_DNS', ['a.local', 'b.local']), undefined, resolver);
    await flush();
    expect(cluster.hosts().map((h) => h.address)).toEqual(['10.0.0.1', '10.0.1.1', '10.0.1.2']);
    await cm.close();
  });

  it('close() cancels refresh timers and ignores late answers', async () => {
    let release: (a: string[]) => void = () => {};
    const resolver: DnsResolver = () => new Promise((resolve) => { release = resolve; });
    const { cluster, clock, cm } = harness(dnsCluster('STRICT_DNS', ['svc.local']), undefined, resolver);
    await cm.close();
    release(['10.0.0.1']);
    await flush();
    expect(cluster.hosts()).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('LOGICAL_DNS', () => {
  it('keeps one logical host whose address follows the first resolved address', async () => {
    const { resolver } = scriptedResolver({ 'web.local': [['10.0.0.1', '10.0.0.2'], ['10.0.0.9'], []] });
    const { cluster, clock, stats, cm } = harness(dnsCluster('LOGICAL_DNS', ['web.local']), undefined, resolver);
    expect(cluster.chooseHost({})).toBeNull(); // nothing until the first answer
    await flush();
    const host = cluster.chooseHost({});
    expect(host?.addressString).toBe('10.0.0.1:8080');
    expect(host?.hostname).toBe('web.local');

    clock.advance(5000);
    await flush();
    expect(cluster.hosts()).toEqual([host]);
    expect(host?.addressString).toBe('10.0.0.9:8080');

    clock.advance(5000); // an empty answer keeps the address
    await flush();
    expect(host?.address).toBe('10.0.0.9');
    expect(stats.counter('cluster.dns.membership_change').value()).toBe(1);
    await cm.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('system resolver', () => {
  it('resolves localhost by dns_lookup_family', async () => {
    expect(await systemResolver('localhost', 'V4_ONLY')).toContain('127.0.0.1');
    expect(await systemResolver('127.0.0.1', 'AUTO')).toEqual(['127.0.0.1']);
    expect(await systemResolver('127.0.0.1', 'V6_ONLY')).toEqual([]);
  });
});

describe('cluster initialization (Envoy init manager)', () => {
  it('a STRICT_DNS cluster is initialized only after its first resolution attempt', async () => {
    const { createClusterManager } = await import('../../../proxy/upstream/cluster-manager.ts');
    const { StatsStore } = await import('../../../proxy/stats/store.ts');
    const { FakeClock, SeededRandom } = await import('../../support/fake-clock.ts');
    let answer!: (a: string[]) => void;
    const resolver = (): Promise<string[]> => new Promise((r) => { answer = r; });
    const cm = createClusterManager([{
      name: 'dns', type: 'STRICT_DNS',
      load_assignment: { cluster_name: 'dns', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'svc.test', port_value: 80 } } } }] }] },
    } as never], { stats: new StatsStore(), clock: new FakeClock(), random: new SeededRandom(1), resolver });
    let done = false;
    const init = cm.initialized().then(() => { done = true; });
    await Promise.resolve();
    expect(done).toBe(false);
    expect(cm.get('dns')!.hosts()).toHaveLength(0);
    answer(['10.0.0.1']);
    await init;
    expect(done).toBe(true);
    expect(cm.get('dns')!.hosts().map((h) => h.addressString)).toEqual(['10.0.0.1:80']);
    await cm.close();
  });
});
