/**
 * A map from an HTLC's circuit key on one node ({@link NodeCircuitKey}) to a value, in insertion
 * order. LND keys such maps by its CircuitKey struct, which Go compares by value; a JS Map compares
 * objects by identity, so the key here is the pair packed into one 128-bit bigint (chan_id high,
 * htlc_id low: injective for u64 values). Not a printed form: logs use circuitKeyString, with the node.
 */
import type { NodeCircuitKey } from '../protocol/index.js';

const packed = (key: NodeCircuitKey): bigint => (key.chanId << 64n) | key.htlcId;

export class NodeCircuitMap<V> {
  readonly #entries = new Map<bigint, V>();

  get(key: NodeCircuitKey): V | undefined {
    return this.#entries.get(packed(key));
  }

  has(key: NodeCircuitKey): boolean {
    return this.#entries.has(packed(key));
  }

  set(key: NodeCircuitKey, value: V): void {
    this.#entries.set(packed(key), value);
  }

  delete(key: NodeCircuitKey): void {
    this.#entries.delete(packed(key));
  }

  clear(): void {
    this.#entries.clear();
  }

  /** The values, in insertion order, as an array: callers may change the map while they go through it. */
  values(): V[] {
    return [...this.#entries.values()];
  }
}
