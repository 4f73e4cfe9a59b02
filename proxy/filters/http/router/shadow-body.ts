// Streams one downstream request body to the main attempt and to every shadow (request mirroring): the
// main attempt pulls the body at its own pace and each chunk is queued for each shadow as it passes.
// A shadow never slows the main request: one that falls more than the buffer limit behind is abandoned.

/** The body as one shadow reads it; created by ShadowBodyTee.branch(). */
export class ShadowBodyBranch implements AsyncIterableIterator<Buffer> {
  private readonly limit: number;
  private readonly onAbandon: () => void;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private error: unknown = undefined;
  private wake: (() => void) | null = null;
  private endCallback: (() => void) | null = null;
  /** true once the shadow stopped reading (finished, cancelled or abandoned): chunks are no longer kept. */
  closed = false;

  constructor(limit: number, onAbandon: () => void) {
    this.limit = limit;
    this.onAbandon = onAbandon;
  }

  /** Runs cb once the shadow has read the whole body (its request is complete). */
  onEnd(cb: () => void): void {
    this.endCallback = cb;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        this.bytes -= chunk.length;
        return { done: false, value: chunk };
      }
      if (this.error !== undefined) throw this.error;
      if (this.ended) {
        this.closed = true;
        const cb = this.endCallback;
        this.endCallback = null;
        cb?.();
        return { done: true, value: undefined };
      }
      if (this.closed) return { done: true, value: undefined };
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  /** The reader stops early (undici on abort), or the shadow finished without reading the body. */
  async return(): Promise<IteratorResult<Buffer>> {
    this.close();
    return { done: true, value: undefined };
  }

  close(): void {
    this.closed = true;
    this.chunks = [];
    this.bytes = 0;
    this.endCallback = null;
    this.notify();
  }

  /** A chunk the main attempt read; shared, not copied (nobody mutates body chunks). */
  push(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      // Envoy gives up on a shadow whose body outgrows retry_shadow_buffer_limit (retry_or_shadow_abandoned).
      this.fail(new Error('shadow request body exceeded the buffer limit'));
      this.onAbandon();
      return;
    }
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(err: unknown): void {
    if (this.closed) return;
    this.error = err ?? new Error('request body failed');
    this.chunks = [];
    this.bytes = 0;
    this.closed = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

export class ShadowBodyTee {
  private readonly source: AsyncIterator<Buffer>;
  private readonly limit: number;
  private readonly branches: ShadowBodyBranch[] = [];
  /** The body for the main attempt (or its RequestBuffer); iterate it once. */
  readonly main: AsyncIterable<Buffer>;

  /** `limit`: how far (bytes) a shadow may fall behind the main attempt before it is abandoned. */
  constructor(source: AsyncIterable<Buffer>, limit: number) {
    this.source = source[Symbol.asyncIterator]();
    this.limit = limit;
    this.main = this.read();
  }

  /** A new shadow's copy of the body; `onAbandon` runs if it falls more than the limit behind. */
  branch(onAbandon: () => void): ShadowBodyBranch {
    const b = new ShadowBodyBranch(this.limit, onAbandon);
    this.branches.push(b);
    return b;
  }

  private async *read(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const r = await this.source.next();
        if (r.done) break;
        for (const b of this.branches) b.push(r.value);
        yield r.value;
      }
    } catch (err) {
      for (const b of this.branches) b.fail(err);
      throw err;
    }
    for (const b of this.branches) b.end();
  }
}
