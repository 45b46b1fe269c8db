/** Slots a table may have: a handle is `generation × SLOTS + slot`, exact in a double up to 2^53. */
const SLOTS = 2 ** 21;
const GENERATIONS = 2 ** 32;

/**
 * Things held while a request is in flight, each under a number of its own (a handle): an array
 * and a free list of its slots, not a Map. Why not a Map: with two Maps taking an insert and a
 * delete per request, the bench's responder promoted every request's objects to the old
 * generation (about 1 KB and 8 µs of GC per request; none with slot tables, docs/PERFORMANCE.md).
 * The likely cause: such a Map rehashes every few dozen requests and V8 links a retired table to
 * its successor for iterators still walking it, so once one table is old the scavenger counts
 * what the chain reaches as live. Slots are reused; a handle carries its slot's generation, so a stale
 * handle finds nothing, never the slot's next occupant.
 */
export class SlotTable<T> {
  readonly #items: (T | undefined)[] = [];
  readonly #generations: number[] = [];
  readonly #free: number[] = [];
  #size = 0;

  /** Items held. */
  get size(): number {
    return this.#size;
  }

  /** Holds `item`; returns its handle (a non-negative integer, never reused while it is held). */
  add(item: T): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#items.length;
      if (slot === SLOTS) throw new RangeError(`a SlotTable holds at most ${SLOTS} items`);
      this.#items.push(item);
      this.#generations.push(0);
    } else this.#items[slot] = item;
    this.#size++;
    return (this.#generations[slot] as number) * SLOTS + slot;
  }

  /** The item under `handle`, or undefined once it was deleted. */
  get(handle: number): T | undefined {
    const slot = handle % SLOTS;
    return this.#generations[slot] === (handle - slot) / SLOTS ? this.#items[slot] : undefined;
  }

  /** Lets go of the item under `handle`; false when nothing is held under it (any more). */
  delete(handle: number): boolean {
    const slot = handle % SLOTS;
    const generation = this.#generations[slot];
    if (generation !== (handle - slot) / SLOTS || this.#items[slot] === undefined) return false;
    this.#items[slot] = undefined;
    this.#generations[slot] = (generation + 1) % GENERATIONS;
    this.#free.push(slot);
    this.#size--;
    return true;
  }

  /** Calls `visit` with every item held, in slot order. */
  forEach(visit: (item: T) => void): void {
    const items = this.#items;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item !== undefined) visit(item);
    }
  }
}
