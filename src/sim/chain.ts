/**
 * The simulated block chain a cluster shares: a height and a hash per block, advanced by
 * {@link SimChain.mine}. Hashes are deterministic (SHA256 of a seed and the height), 32 bytes in
 * Bitcoin's internal byte order, as LND's BlockEpoch carries them.
 */
import { createHash } from 'node:crypto';

/** A block as LND's chain notifier reports it. */
export interface BlockEpoch {
  /** 32 bytes, internal byte order (the reverse of the usual hex display). */
  readonly hash: Uint8Array;
  /** Height, blocks. */
  readonly height: number;
}

/** The chains LND's GetInfo names (`lncfg.NormalizeNetwork`). */
export type SimNetwork = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest' | 'simnet';

export type BlockListener = (block: BlockEpoch) => void;

export class SimChain {
  #height: number;
  readonly #seed: string;
  readonly #listeners = new Set<BlockListener>();

  /**
   * @param startHeight - height of the tip at start, blocks (default 1,000).
   * @param seed - distinguishes the block hashes of separate chains.
   */
  constructor(startHeight = 1_000, seed = 'lnmux-sim') {
    if (!Number.isInteger(startHeight) || startHeight < 0 || startHeight > 0x7fff_ffff) {
      throw new RangeError(`startHeight: expected an integer in [0, 2^31), got ${startHeight}`);
    }
    this.#height = startHeight;
    this.#seed = seed;
  }

  /** Height of the tip, blocks. */
  get height(): number {
    return this.#height;
  }

  /** The block at `height` (0 <= height <= tip). */
  blockAt(height: number): BlockEpoch {
    if (!Number.isInteger(height) || height < 0 || height > this.#height) throw new RangeError(`no block at height ${height}`);
    return { height, hash: createHash('sha256').update(`${this.#seed}:${height}`).digest() };
  }

  /** The tip. */
  tip(): BlockEpoch {
    return this.blockAt(this.#height);
  }

  /** Mines `count` blocks (default 1), telling every listener about each one in order. Returns the new tip. */
  mine(count = 1): BlockEpoch {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`count: expected a positive integer, got ${count}`);
    for (let i = 0; i < count; i++) {
      this.#height += 1;
      const block = this.tip();
      for (const listener of [...this.#listeners]) listener(block);
    }
    return this.tip();
  }

  /** Calls `listener` for every block mined from now on; returns the function that stops it. */
  onBlock(listener: BlockListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The genesis block hash of each network in internal byte order: the chain_hash of BOLT 7 messages. */
export function chainHashOf(network: SimNetwork): Uint8Array {
  const display: Record<SimNetwork, string> = {
    mainnet: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    testnet: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
    testnet4: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
    signet: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
    regtest: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    simnet: '683e86bd5c6d110d91b94b97137ba6bfe02dbbdb8e3dff722a669b5d69d77af6',
  };
  return Buffer.from(display[network], 'hex').reverse();
}
