// `nodevoy control-plane`: flag parsing (including --kube-api and its companions), and --validate printing every load, validation and conflict error
// as `file[doc]:line Kind ns/name: path: message` and every warning with a `warning:` marker, then
// `N errors, M warnings`; exit 1 only on errors. No server is started.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCerts } from '../../../cli/certs-command.ts';
import { parseControlPlaneArgs, runControlPlane } from '../../../cli/control-plane-command.ts';
import { captureIo } from '../../support/captured-io.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function meshDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-cp-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`;
const vs = (name: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}${extra}
`;

describe('nodevoy control-plane flags', () => {
  it.each([
    [['--config-dir', 'mesh'], { configDir: 'mesh', address: '127.0.0.1', port: 15010, logLevel: 'info', validate: false }],
    [['--validate', 'mesh'], { configDir: 'mesh', address: '127.0.0.1', port: 15010, logLevel: 'info', validate: true }],
    [['--config-dir', 'm', '--address', '0.0.0.0', '--port', '0', '-l', 'debug'], { configDir: 'm', address: '0.0.0.0', port: 0, logLevel: 'debug', validate: false }],
  ])('%j', (argv, args) => {
    expect(parseControlPlaneArgs(argv)).toEqual({ ok: true, args });
  });

  it('reports every problem', () => {
    const r = parseControlPlaneArgs(['--port', 'x', '-l', 'loud']);
    expect(r).toEqual({ ok: false, errors: ['--config-dir DIR is required', '--port: "x" is not a port number', '--log-level: "loud" is not a log level'] });
  });

  it('--kube-api defaults to the pod\'s own ServiceAccount files and audience istio-ca', () => {
    expect(parseControlPlaneArgs(['mesh', '--ca-dir', 'ca', '--kube-api', 'in-cluster'])).toMatchObject({ ok: true, args: {
      caDir: 'ca',
      kube: {
        api: 'in-cluster', audiences: ['istio-ca'],
        tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token', caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      },
    } });
  });

  it('--kube-api with its files and several audiences', () => {
    const argv = ['mesh', '--ca-dir', 'ca', '--kube-api', 'https://127.0.0.1:6443', '--kube-token-file', 'cp.token', '--kube-ca-file', 'kind-ca.crt',
      '--kube-audience', 'istio-ca', '--kube-audience', 'nodevoy'];
    expect(parseControlPlaneArgs(argv)).toMatchObject({ ok: true, args: {
      kube: { api: 'https://127.0.0.1:6443', tokenFile: 'cp.token', caFile: 'kind-ca.crt', audiences: ['istio-ca', 'nodevoy'] },
    } });
    expect(parseControlPlaneArgs(['mesh'])).toMatchObject({ ok: true, args: { kube: undefined } });
  });

  it('reports every --kube-* problem', () => {
    expect(parseControlPlaneArgs(['mesh', '--kube-token-file', 't', '--kube-ca-file', 'c', '--kube-audience', 'a'])).toEqual({ ok: false, errors: [
      '--kube-token-file needs --kube-api', '--kube-ca-file needs --kube-api', '--kube-audience needs --kube-api',
    ] });
    expect(parseControlPlaneArgs(['mesh', '--kube-api', 'http://127.0.0.1:8001', '--kube-audience', ''])).toEqual({ ok: false, errors: [
      '--kube-api needs --ca-dir (TokenReview proves identities to the CA service)',
      '--kube-api: "http://127.0.0.1:8001" must be an https:// URL (or "in-cluster")',
      '--kube-audience must not be empty',
    ] });
  });

  it('exits 1 at start when a --kube-* file cannot be read', async () => {
    const caDir = meshDir({});
    expect(runCerts(['init', '--dir', caDir, '--force'], captureIo().io)).toBe(0);
    const c = captureIo();
    expect(await runControlPlane([meshDir({}), '--ca-dir', caDir, '--kube-api', 'https://127.0.0.1:6443', '--kube-token-file', join(caDir, 'no-such-token')], c.io)).toBe(1);
    expect(c.text().stderr).toBe(`nodevoy control-plane: --kube-token-file: cannot read ${join(caDir, 'no-such-token')}: ENOENT\n`);
  });

  it('exits 1 with the usage on bad flags', async () => {
    const c = captureIo();
    expect(await runControlPlane(['--bogus'], c.io)).toBe(1);
    expect(c.text().stderr).toMatch(/Unknown option '--bogus'[\s\S]*usage: nodevoy control-plane/);
  });
});

describe('nodevoy control-plane --validate', () => {
  it('prints OK and exits 0 for a valid directory', async () => {
    const dir = meshDir({ 'services.yaml': SERVICE, 'reviews.yaml': vs('reviews') });
    const c = captureIo();
    expect(await runControlPlane(['--config-dir', dir, '--validate'], c.io)).toBe(0);
    expect(c.text().stdout).toBe(`${dir}: OK (2 resources; 0 errors, 0 warnings)\n`);
  });

  it('prints every error with file, document, line, resource and path, and exits 1', async () => {
    const dir = meshDir({
      'services.yaml': SERVICE,
      'reviews.yaml': `${vs('reviews', '\n    timeout: soon')}---\n${vs('other')}`,
    });
    const c = captureIo();
    expect(await runControlPlane(['--validate', dir], c.io)).toBe(1);
    const lines = c.text().stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${join(dir, 'reviews.yaml')}[0]:9 VirtualService default/reviews: spec.http[0].timeout: "soon" is not a duration (expected e.g. "5s", "100ms", "1m", "1h", "2.5s")`);
    // The invalid VirtualService is dropped, so the second one is the only claim on the host: no conflict.
    expect(lines.slice(1)).toEqual([`${dir}: 1 error, 0 warnings`]);
  });

  it('reports two VirtualServices claiming one host as a conflict', async () => {
    const dir = meshDir({ 'services.yaml': SERVICE, 'reviews.yaml': `${vs('reviews')}---\n${vs('reviews-too')}` });
    const c = captureIo();
    expect(await runControlPlane(['--validate', dir], c.io)).toBe(1);
    const [conflict, summary] = c.text().stdout.trimEnd().split('\n');
    expect(conflict).toMatch(new RegExp(`^${join(dir, 'reviews.yaml').replace(/[.]/g, '\\.')}\\[1\\]:\\d+ VirtualService default/reviews-too: spec\\.hosts\\[0\\]: .*reviews`));
    expect(summary).toBe(`${dir}: 1 error, 0 warnings`);
  });

  it('prints missing references as warnings and exits 0 when there is no error', async () => {
    // An unknown subset and a host no ServiceEntry declares: IST0101, the resources stay in force.
    const dir = meshDir({ 'services.yaml': SERVICE, 'reviews.yaml': `${vs('reviews').replace('{host: reviews}', '{host: reviews, subset: v9}')}---\n${vs('ratings').replace('[reviews]', '[ratings]')}` });
    const c = captureIo();
    expect(await runControlPlane(['--validate', dir], c.io)).toBe(0);
    const file = join(dir, 'reviews.yaml');
    expect(c.text().stdout.trimEnd().split('\n')).toEqual([
      `${file}[0]:1 VirtualService default/reviews: warning: spec.http[0].route[0].destination.subset: no DestinationRule defines subset "v9" for host "reviews.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): requests routed there get 503 (NC, cluster not found) until it exists`,
      `${file}[1]:10 VirtualService default/ratings: warning: spec.hosts[0]: no ServiceEntry declares host "ratings.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): the VirtualService is kept and routes this host once it is in the registry`,
      `${dir}: OK (3 resources; 0 errors, 2 warnings)`,
    ]);
  });

  it('counts errors and warnings apart and exits 1 on an error', async () => {
    const dir = meshDir({ 'services.yaml': SERVICE, 'reviews.yaml': `${vs('reviews').replace('{host: reviews}', '{host: reviews, subset: v9}')}---\n${vs('reviews-too')}` });
    const c = captureIo();
    expect(await runControlPlane(['--validate', dir], c.io)).toBe(1);
    const lines = c.text().stdout.trimEnd().split('\n');
    expect(lines.map((l) => / warning: /.test(l))).toEqual([true, false, false]);
    expect(lines.at(-1)).toBe(`${dir}: 1 error, 1 warning`);
  });

  it('the seed articles: only the resources two sections both declare are errors', async () => {
    const c = captureIo();
    const seeds = fileURLToPath(new URL('../../../../shared/seeds/yaml', import.meta.url));
    expect(await runControlPlane(['--validate', seeds], c.io)).toBe(1);
    const lines = c.text().stdout.trimEnd().split('\n');
    // 003 and 004 repeat 002's PeerAuthentication production/default: duplicates, like 003's traffic rules.
    expect(lines.filter((l) => !l.includes(': warning: ')).map((l) => /^\S+ (\S+ \S+):/.exec(l)?.[1] ?? l)).toEqual([
      'PeerAuthentication production/default', 'VirtualService default/payment-service', 'DestinationRule default/payment-service',
      'PeerAuthentication production/default', 'VirtualService default/payment-fault-test',
      `${seeds}: 5 errors, 16 warnings`,
    ]);
  });

  it('reports an unreadable directory', async () => {
    const c = captureIo();
    expect(await runControlPlane(['--validate', join(tmpdir(), 'nodevoy-no-such-dir')], c.io)).toBe(1);
    expect(c.text().stdout).toMatch(/nodevoy-no-such-dir\[0\]: \(root\): cannot read/);
  });
});
