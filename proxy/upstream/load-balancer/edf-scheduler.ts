// Earliest-deadline-first scheduler (Envoy's EdfScheduler) for weighted picks: each entry's next
// deadline is now + 1/weight; the earliest deadline wins, ties go to the earlier insertion.

interface Entry<T> {
  readonly deadline: number;
  readonly order: number;
  readonly item: T;
}

export class EdfScheduler<T> {
  private readonly heap: Entry<T>[] = [];
  private currentTime = 0;
  private order = 0;

  add(item: T, weight: number): void {
    this.push({ deadline: this.currentTime + 1 / weight, order: this.order++, item });
  }

  /** Pops the earliest entry and re-adds it with the weight `weightOf` gives now. */
  pickAndAdd(weightOf: (item: T) => number): T | undefined {
    const top = this.pop();
    if (!top) return undefined;
    this.currentTime = top.deadline;
    this.add(top.item, weightOf(top.item));
    return top.item;
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  private push(e: Entry<T>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Entry<T> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}
