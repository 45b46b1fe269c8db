/**
 * A map that holds at most `maxEntries` and forgets its oldest entry to make room. For memos and
 * per-key state keyed by names a peer chooses (tenants, callers, subjects): a flood of new names
 * must not grow memory without end, and must not throw away every warm entry at once either.
 */
export class BoundedCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, not ${maxEntries}`);
    }
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): this {
    if (this.#map.size >= this.#max && !this.#map.has(key)) {
      // Map iterates in insertion order: the first key is the oldest
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
    return this;
  }

  /** The entry for `key`, made by `make` (and kept) when there is none. */
  getOrCreate(key: K, make: (key: K) => V): V {
    let value = this.#map.get(key);
    if (value === undefined) {
      value = make(key);
      this.set(key, value);
    }
    return value;
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }

  values(): IterableIterator<V> {
    return this.#map.values();
  }
}
