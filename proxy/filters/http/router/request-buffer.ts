// The downstream request body of a request that may be retried: read once from the downstream, kept (up
// to a byte limit) so every attempt can replay it from the start, and handed on to the current attempt as
// it arrives. Past the limit (the listener's per_connection_buffer_limit_bytes) the kept bytes are
// dropped and the body is no longer replayable.

export class RequestBuffer {
  private readonly source: AsyncIterator<Buffer>;
  private readonly limit: number;
  private readonly onOverflow: () => void;
  /** Body chunks from absolute index `base` on (earlier ones were dropped after an overflow). */
  private chunks: Buffer[] = [];
  private base = 0;
  private size = 0;
  private ended = false;
  private error: unknown = undefined;
  private pulling: Promise<void> | null = null;
  /** The attempt currently fed, and how far it has read. */
  private reader = 0;
  private readerPos = 0;
  /** true once the body outgrew the limit: it can no longer be replayed. */
  overflowed = false;

  constructor(source: AsyncIterable<Buffer>, limit: number, onOverflow: () => void) {
    this.source = source[Symbol.asyncIterator]();
    this.limit = limit;
    this.onOverflow = onOverflow;
  }

  /** The whole body for a new attempt; the previous attempt's iterable stops yielding. */
  replay(): AsyncIterable<Buffer> {
    return this.read(++this.reader);
  }

  private async *read(id: number): AsyncGenerator<Buffer> {
    let i = 0;
    for (;;) {
      if (id !== this.reader) return;
      if (i < this.base + this.chunks.length) {
        if (i < this.base) throw new Error('request body was not kept for a retry');
        const chunk = this.chunks[i - this.base]!;
        i++;
        this.readerPos = i;
        if (this.overflowed) this.dropRead();
        yield chunk;
        continue;
      }
      if (this.error !== undefined) throw this.error;
      if (this.ended) return;
      await this.pull();
    }
  }

  private pull(): Promise<void> {
    return (this.pulling ??= this.source.next().then(
      (r) => {
        if (r.done) this.ended = true;
        else this.append(r.value);
      },
      (err: unknown) => { this.error = err ?? new Error('request body failed'); },
    ).finally(() => { this.pulling = null; }));
  }

  private append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (!this.overflowed && this.size > this.limit) {
      this.overflowed = true;
      this.dropRead();
      this.onOverflow();
    }
  }

  /** After an overflow only the current attempt reads: forget what it has already read. */
  private dropRead(): void {
    const n = this.readerPos - this.base;
    if (n <= 0) return;
    this.chunks = this.chunks.slice(n);
    this.base = this.readerPos;
  }
}
