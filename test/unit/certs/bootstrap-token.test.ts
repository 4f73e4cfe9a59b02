// Bootstrap tokens: a token proves the identity it was issued for until it expires (by the injected
// clock); a tampered payload or MAC, another CA's secret, a malformed or expired token proves nothing.

import { describe, expect, it } from 'vitest';
import { DEFAULT_BOOTSTRAP_TOKEN_TTL_MS, generateTokenSecret, issueBootstrapToken, verifyBootstrapToken } from '../../../certs/bootstrap-token.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { identity } from './fixtures.ts';

const SLEEP = identity('default', 'sleep');

function setup() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const secret = generateTokenSecret();
  return { clock, secret, token: issueBootstrapToken(SLEEP, secret, clock) };
}

const reasonOf = (r: ReturnType<typeof verifyBootstrapToken>): string => (r.ok ? 'accepted' : r.reason);

describe('bootstrap tokens', () => {
  it('prove the identity they were issued for, until 12 h later', () => {
    const { clock, secret, token } = setup();
    expect(token).toMatch(/^nbt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyBootstrapToken(token, secret, clock)).toEqual({ ok: true, value: SLEEP });
    clock.advance(DEFAULT_BOOTSTRAP_TOKEN_TTL_MS - 1);
    expect(verifyBootstrapToken(token, secret, clock).ok).toBe(true);
    clock.advance(1);
    expect(reasonOf(verifyBootstrapToken(token, secret, clock))).toBe('bootstrap token expired at 2026-01-01T12:00:00.000Z');
  });

  it('take a custom lifetime', () => {
    const { clock, secret } = setup();
    const token = issueBootstrapToken(SLEEP, secret, clock, 60_000);
    clock.advance(60_000);
    expect(reasonOf(verifyBootstrapToken(token, secret, clock))).toContain('expired');
  });

  it('refuse a payload rewritten to another identity or a later expiry', () => {
    const { clock, secret, token } = setup();
    const [prefix, payload, mac] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    for (const forged of [{ ...claims, sa: 'admin' }, { ...claims, ns: 'kube-system' }, { ...claims, exp: claims.exp + 86_400 }]) {
      const rewritten = `${prefix}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${mac}`;
      expect(reasonOf(verifyBootstrapToken(rewritten, secret, clock))).toBe('bootstrap token signature is invalid');
    }
  });

  it('refuse a token made with another secret, or with its MAC altered', () => {
    const { clock, secret, token } = setup();
    expect(reasonOf(verifyBootstrapToken(token, generateTokenSecret(), clock))).toBe('bootstrap token signature is invalid');
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(reasonOf(verifyBootstrapToken(token.slice(0, -1) + last, secret, clock))).toBe('bootstrap token signature is invalid');
    expect(reasonOf(verifyBootstrapToken(`${token}A`, secret, clock))).toBe('bootstrap token signature is invalid');
    expect(reasonOf(verifyBootstrapToken(token.slice(0, -2), secret, clock))).toBe('bootstrap token signature is invalid');
  });

  it.each(['', 'nbt1', 'nbt1.a', 'nbt2.a.b', 'a.b.c.d', 'Bearer x'])('refuse the malformed token %j', (text) => {
    const { clock, secret } = setup();
    expect(reasonOf(verifyBootstrapToken(text, secret, clock))).toBe('bootstrap token is malformed');
  });

  it('refuse to issue a token for an invalid identity', () => {
    const { clock, secret } = setup();
    expect(() => issueBootstrapToken(identity('Default', 'x'), secret, clock)).toThrow(/namespace "Default"/);
  });
});
