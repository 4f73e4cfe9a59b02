// End-to-end chaos test (issue 3): a real proxy in front of three real upstreams of one ROUND_ROBIN
// cluster — A healthy, B answering 503 for a while, C resetting connections for a while. Retries keep
// the clients whole; outlier detection ejects B and C and lets them back once their ejection is over.
// A FakeClock drives retry back-offs, outlier sweeps and ejection times; SeededRandom draws back-offs.

import { Agent, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../proxy/server/server.ts';
import { FakeClock, SeededRandom } from '../support/fake-clock.ts';
import { bootstrapYaml, send, startProxy, staticCluster } from '../support/proxy.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const CLUSTER = 'backend';
const BATCH = 20;
const TOTAL_REQUESTS = 2_000;
/** The cluster's max_retries: high enough that 20 concurrent requests' retries never overflow (Envoy's default is 3). */
const MAX_RETRIES = 100;
/** While every request still pending waits in retry back-off, the clock moves in steps of this size... */
const BACK_OFF_STEP_MS = 30;
/** ...at most this many times per batch (a first back-off is < 25 ms, a third < 100 ms). */
const MAX_STEPS_PER_BATCH = 30;
/** Wall-time guard for one batch, so a hung request fails the test with a message instead of spinning. */
const BATCH_WALL_LIMIT_MS = 5_000;

const ROUTES = `- match: { prefix: / }
  route:
    cluster: ${CLUSTER}
    retry_policy:
      retry_on: "5xx,reset,connect-failure"
      num_retries: 3
      retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts }]
      host_selection_retry_max_attempts: 3`;

// healthy_panic_threshold 0: with B and C ejected only 1/3 of the hosts is healthy, below Envoy's 50 %
// default, which would make the cluster panic and balance over the ejected hosts too.
const CLUSTER_EXTRA = `lb_policy: ROUND_ROBIN
outlier_detection: { consecutive_5xx: 3, interval: 1s, base_ejection_time: 5s, max_ejection_percent: 100 }
common_lb_config: { healthy_panic_threshold: { value: 0 } }
circuit_breakers: { thresholds: [{ priority: DEFAULT, max_retries: ${MAX_RETRIES}, track_remaining: true }] }`;

interface Reply {
  readonly status: number;
  readonly body: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** One GET through a keep-alive agent; a transport error is a reply with status 0 and the error text. */
function get(port: number, agent: Agent): Promise<Reply> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

describe('chaos: retries and outlier detection under failing upstreams', () => {
  it('keeps >= 99.9 % of 2,000 requests successful while B (503) and C (resets) are ejected and return', async () => {
    const broken = { B: false, C: false };
    const a = await startUpstream('A');
    const b = await startUpstream('B', (_req, res) => {
      res.writeHead(broken.B ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(broken.B ? 'B unavailable' : 'B');
    });
    const c = await startUpstream('C', (req, res) => {
      if (broken.C) {
        req.socket.destroy();
        return;
      }
      res.end('C');
    });
    const upstreams: Record<string, TestUpstream> = { A: a, B: b, C: c };
    cleanups.push(() => a.close(), () => b.close(), () => c.close());

    const clock = new FakeClock();
    const proxy: Server = await startProxy(bootstrapYaml({
      routes: ROUTES, clusters: staticCluster(CLUSTER, [a.port, b.port, c.port], CLUSTER_EXTRA),
    }), { clock, random: new SeededRandom(0xc4a05) });
    cleanups.push(() => proxy.close());
    const agent = new Agent({ keepAlive: true, maxSockets: BATCH });
    cleanups.push(() => agent.destroy());
    const port = proxy.listenerPort('main');

    const counter = (name: string): number => proxy.stats.counters.get(`cluster.${CLUSTER}.${name}`)?.value() ?? 0;
    const gauge = (name: string): number => proxy.stats.gauges.get(`cluster.${CLUSTER}.${name}`)?.value() ?? 0;
    const ejectionsActive = (): number => gauge('outlier_detection.ejections_active');
    const enforced = (): number => counter('outlier_detection.ejections_enforced_total');
    const received = (): Record<string, number> => ({ A: a.received.length, B: b.received.length, C: c.received.length });

    /** Each upstream's health_flags line in /clusters. */
    async function healthFlags(): Promise<Record<string, string | undefined>> {
      const text = (await send(proxy.adminPort!, '/clusters')).body;
      const flags: Record<string, string | undefined> = {};
      for (const [name, u] of Object.entries(upstreams)) {
        flags[name] = new RegExp(`^${CLUSTER}::127\\.0\\.0\\.1:${u.port}::health_flags::(.*)$`, 'm').exec(text)?.[1];
      }
      return flags;
    }

    /**
     * Every request that holds a retry token (granted, outcome not yet known) while no attempt is in flight
     * is waiting for its back-off timer: only the clock can move it on.
     */
    const allWaitingInBackOff = (): boolean =>
      MAX_RETRIES - gauge('circuit_breakers.default.remaining_retries') > 0 && gauge('upstream_rq_active') === 0;

    const replies: Reply[] = [];
    let backOffSteps = 0;
    /**
     * Sends BATCH concurrent requests and waits for all of them, turning the event loop for real I/O and
     * advancing the clock by BACK_OFF_STEP_MS only when the pending requests are all in retry back-off.
     */
    async function sendBatch(): Promise<Reply[]> {
      let pending = BATCH;
      const batch = Promise.all(Array.from({ length: BATCH }, () => get(port, agent).finally(() => { pending--; })));
      const wallDeadline = performance.now() + BATCH_WALL_LIMIT_MS;
      let steps = 0;
      while (pending > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (performance.now() > wallDeadline) throw new Error(`batch ${replies.length / BATCH}: ${pending} requests still pending`);
        if (pending > 0 && allWaitingInBackOff()) {
          if (++steps > MAX_STEPS_PER_BATCH) throw new Error(`batch ${replies.length / BATCH}: back-off needed more than ${MAX_STEPS_PER_BATCH} clock steps`);
          clock.advance(BACK_OFF_STEP_MS);
        }
      }
      backOffSteps += steps;
      const out = await batch;
      replies.push(...out);
      return out;
    }
    async function sendBatches(n: number): Promise<Reply[]> {
      const out: Reply[] = [];
      for (let i = 0; i < n; i++) out.push(...(await sendBatch()));
      return out;
    }
    /** Advances the clock in 100 ms steps until no host is ejected; returns how far it went. */
    function advanceUntilReturned(limitMs: number): number {
      let advanced = 0;
      while (ejectionsActive() > 0 && advanced < limitMs) {
        clock.advance(100);
        advanced += 100;
      }
      return advanced;
    }
    const bodies = (rs: readonly Reply[]): Set<string> => new Set(rs.map((r) => r.body));

    // 1. Warm-up, all healthy: round robin reaches every host; nothing is retried and the clock never moves.
    const startMs = clock.monotonicMs();
    const warm = await sendBatches(10);
    expect(bodies(warm)).toEqual(new Set(['A', 'B', 'C']));
    expect(counter('upstream_rq_retry')).toBe(0);
    expect(clock.monotonicMs()).toBe(startMs);

    // 2. Chaos: B answers 503, C resets every connection. Three consecutive 5xx (a reset counts as a 503
    //    without split_external_local_origin_errors) eject each of them within the first batch.
    broken.B = true;
    broken.C = true;
    const firstChaos = await sendBatch();
    expect(firstChaos.filter((r) => r.status !== 200 || r.body !== 'A')).toEqual([]);
    expect([enforced(), counter('outlier_detection.ejections_enforced_consecutive_5xx'), ejectionsActive()]).toEqual([2, 2, 2]);
    expect(await healthFlags()).toEqual({ A: 'healthy', B: '/failed_outlier_check', C: '/failed_outlier_check' });
    expect(counter('upstream_rq_retry')).toBeGreaterThan(0);
    expect(backOffSteps).toBeGreaterThan(0); // the retries waited for their back-off on the fake clock

    // 3. While ejected, B and C get no traffic at all, so nothing fails, nothing is retried and the clock stays put.
    const ejectedAt = received();
    const retriesAt = counter('upstream_rq_retry');
    const clockAt = clock.monotonicMs();
    const whileEjected = await sendBatches(19);
    expect(bodies(whileEjected)).toEqual(new Set(['A']));
    expect(received()).toEqual({ ...ejectedAt, A: ejectedAt.A! + 19 * BATCH });
    expect([counter('upstream_rq_retry'), clock.monotonicMs()]).toEqual([retriesAt, clockAt]);

    // 4. base_ejection_time (5 s) later, at the next 1 s sweep, both return although still broken; the
    //    first batch ejects them again, now for 2 × base_ejection_time. Clients still see only 200s.
    clock.advance(4_000);
    expect(ejectionsActive()).toBe(2);
    const toFirstReturn = advanceUntilReturned(3_000);
    expect(ejectionsActive()).toBe(0);
    expect(4_000 + toFirstReturn).toBeLessThanOrEqual(6_100); // ejection time + at most one sweep interval
    expect(await healthFlags()).toEqual({ A: 'healthy', B: 'healthy', C: 'healthy' });
    const beforeRelapse = received();
    const relapse = await sendBatch();
    expect(relapse.filter((r) => r.status !== 200 || r.body !== 'A')).toEqual([]);
    expect(received().B).toBeGreaterThan(beforeRelapse.B!);
    expect(received().C).toBeGreaterThan(beforeRelapse.C!);
    expect([enforced(), ejectionsActive()]).toEqual([4, 2]);
    await sendBatches(19);

    // 5. B and C recover. The second ejection lasts 10 s: after 9 s they are still out of rotation...
    broken.B = false;
    broken.C = false;
    clock.advance(9_000);
    expect(await healthFlags()).toEqual({ A: 'healthy', B: '/failed_outlier_check', C: '/failed_outlier_check' });
    const stillEjected = received();
    expect(bodies(await sendBatch())).toEqual(new Set(['A']));
    expect([received().B, received().C]).toEqual([stillEjected.B, stillEjected.C]);
    // ...and at the first sweep after the 10 s they return.
    const toSecondReturn = advanceUntilReturned(3_000);
    expect(9_000 + toSecondReturn).toBeLessThanOrEqual(11_100);
    expect(await healthFlags()).toEqual({ A: 'healthy', B: 'healthy', C: 'healthy' });

    // 6. Recovered: traffic reaches B and C again, with no more retries or ejections.
    const retriesBeforeRecovery = counter('upstream_rq_retry');
    const beforeRecovery = received();
    const remaining = TOTAL_REQUESTS / BATCH - replies.length / BATCH;
    const recovered = await sendBatches(remaining);
    expect(bodies(recovered)).toEqual(new Set(['A', 'B', 'C']));
    expect(received().B).toBeGreaterThan(beforeRecovery.B!);
    expect(received().C).toBeGreaterThan(beforeRecovery.C!);
    expect([counter('upstream_rq_retry'), enforced(), ejectionsActive()]).toEqual([retriesBeforeRecovery, 4, 0]);

    // Overall: the clients barely noticed.
    expect(replies).toHaveLength(TOTAL_REQUESTS);
    const failed = replies.filter((r) => r.status !== 200);
    expect(failed.length / TOTAL_REQUESTS, JSON.stringify(failed.slice(0, 5))).toBeLessThanOrEqual(0.001);
    expect(counter('upstream_rq_retry')).toBeGreaterThan(0);
    expect(counter('upstream_rq_retry_success')).toBeGreaterThan(0);
    expect([counter('upstream_rq_retry_overflow'), counter('upstream_rq_retry_limit_exceeded'), counter('upstream_cx_none_healthy')]).toEqual([0, 0, 0]);
  });
});
