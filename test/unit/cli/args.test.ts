// `nodevoy proxy` flag parsing (Envoy's flag names) and --config-yaml merging (protobuf MergeFrom rules).

import { describe, expect, it } from 'vitest';
import { parseProxyArgs } from '../../../cli/args.ts';
import { protoMerge } from '../../../cli/config-input.ts';

describe('parseProxyArgs', () => {
  it('reads Envoy flags with Envoy defaults', () => {
    expect(parseProxyArgs(['-c', 'envoy.yaml'])).toEqual({
      ok: true,
      options: { configPath: 'envoy.yaml', configYaml: undefined, serviceNode: undefined, serviceCluster: undefined, logLevel: 'info', drainTimeS: 600, mode: 'serve' },
    });
    const r = parseProxyArgs(['--config-path', 'a.yaml', '--config-yaml', 'node: {id: x}', '--service-node', 'n', '--service-cluster', 'c',
      '-l', 'debug', '--drain-time-s', '5', '--mode', 'validate', '--concurrency', '1']);
    expect(r).toEqual({ ok: true, options: { configPath: 'a.yaml', configYaml: 'node: {id: x}', serviceNode: 'n', serviceCluster: 'c', logLevel: 'debug', drainTimeS: 5, mode: 'validate' } });
  });

  it('reports every problem at once', () => {
    const r = parseProxyArgs(['-l', 'loud', '--drain-time-s', 'soon', '--mode', 'init_only', '--concurrency', '4']);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(5);
    expect(r.errors.join('\n')).toMatch(/--log-level.*loud/);
    expect(r.errors.join('\n')).toMatch(/--drain-time-s.*soon/);
    expect(r.errors.join('\n')).toMatch(/init_only is not implemented/);
    expect(r.errors.join('\n')).toMatch(/--concurrency 1/);
    expect(r.errors.join('\n')).toMatch(/config-path or --config-yaml is required/);
  });

  it('rejects unknown flags', () => {
    const r = parseProxyArgs(['-c', 'a.yaml', '--bogus']);
    expect(r.ok).toBe(false);
  });
});

describe('protoMerge (--config-yaml over the file)', () => {
  it('merges messages, appends repeated fields and replaces scalars', () => {
    const base = { node: { id: 'a', cluster: 'c' }, static_resources: { clusters: [{ name: 'x' }] }, admin: { address: 1 } };
    const over = { node: { id: 'b' }, static_resources: { clusters: [{ name: 'y' }] } };
    expect(protoMerge(base, over)).toEqual({
      node: { id: 'b', cluster: 'c' }, static_resources: { clusters: [{ name: 'x' }, { name: 'y' }] }, admin: { address: 1 },
    });
  });
});
