// ShadowBodyTee: the main attempt pulls the request body at its own pace and every shadow gets each chunk;
// a shadow that falls more than the buffer limit behind is abandoned without slowing the main attempt.

import { describe, expect, it } from 'vitest';
import { ShadowBodyTee, type ShadowBodyBranch } from '../../../proxy/filters/http/router/shadow-body.ts';

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

async function* failing(): AsyncGenerator<Buffer> {
  yield Buffer.from('a');
  throw new Error('downstream reset');
}

async function readAll(body: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const c of body) out += c.toString();
  return out;
}

describe('ShadowBodyTee', () => {
  it('gives the main attempt and every shadow the whole body, in order, and reports each shadow\'s end', async () => {
    const tee = new ShadowBodyTee(chunks('ab', 'cd', 'ef'), 1024);
    const ended: string[] = [];
    const a = tee.branch(() => { throw new Error('not abandoned'); });
    const b = tee.branch(() => { throw new Error('not abandoned'); });
    a.onEnd(() => ended.push('a'));
    b.onEnd(() => ended.push('b'));
    // The shadows read concurrently with the main attempt, which drives the source.
    const [main, ra, rb] = await Promise.all([readAll(tee.main), readAll(a), readAll(b)]);
    expect([main, ra, rb, ended.sort()]).toEqual(['abcdef', 'abcdef', 'abcdef', ['a', 'b']]);
  });

  it('abandons a shadow that falls more than the limit behind; the main attempt and other shadows go on', async () => {
    const tee = new ShadowBodyTee(chunks('1234', '5678', '9'), 6);
    let abandoned = 0;
    const slow = tee.branch(() => abandoned++);
    const fast = tee.branch(() => { throw new Error('not abandoned'); });
    const fastRead = readAll(fast);
    // Only the main attempt reads: the slow shadow queues 4 bytes, then 8 > 6.
    expect(await readAll(tee.main)).toBe('123456789');
    expect(abandoned).toBe(1);
    expect(slow.closed).toBe(true);
    await expect(slow.next()).rejects.toThrow('exceeded the buffer limit');
    expect(await fastRead).toBe('123456789');
  });

  it('fails the shadows when the downstream body fails', async () => {
    const tee = new ShadowBodyTee(failing(), 1024);
    const shadow = tee.branch(() => {});
    const shadowRead = readAll(shadow);
    await expect(readAll(tee.main)).rejects.toThrow('downstream reset');
    await expect(shadowRead).rejects.toThrow('downstream reset');
  });

  it('a closed shadow keeps nothing and reads as ended, without running its end callback', async () => {
    const tee = new ShadowBodyTee(chunks('abc', 'def'), 1024);
    const shadow: ShadowBodyBranch = tee.branch(() => { throw new Error('not abandoned'); });
    let ended = false;
    shadow.onEnd(() => { ended = true; });
    const waiting = shadow.next();
    shadow.close();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(await readAll(tee.main)).toBe('abcdef');
    expect(await shadow.next()).toEqual({ done: true, value: undefined });
    expect(ended).toBe(false);
  });
});
