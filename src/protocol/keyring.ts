/**
 * The keyring: lnmux's identity private key and the keys derived from it, one per purpose.
 *
 * The identity key (32-byte secp256k1 scalar) is the virtual node's key. It is used as is where the
 * protocol demands it: the BOLT 11 invoice signature (the payee is the virtual node) and the onion
 * ECDH (the final onion layer is addressed to the virtual node). Everything lnmux adds on top gets its
 * own key, derived with HKDF-SHA256 (RFC 5869; empty salt, the identity key as input key material,
 * 32-byte output) under a distinct info label:
 *
 *   preimage key     (HMAC key that turns a payment_addr into the preimage)  "lnmux/preimage/v<keyId>"
 *   payment_addr key (ChaCha20 key that hides amount and expiry)             "lnmux/payment-addr/v<keyId>"
 *
 * `keyId` (0..255) is the key generation, carried in the clear in every payment_addr, so that the
 * derived keys can be rotated (a new key id for new invoices while older ones stay accepted) without
 * touching the node identity. Key id 0 is the only one in use today.
 *
 * Separate keys mean a key given to one job (say, the preimage key to a component that only checks
 * payments) reveals nothing about the others nor about the identity key (HKDF is one-way).
 *
 * Secrets never reach a log: the keyring prints (toString, JSON, util.inspect) as a redacted summary
 * with the public key only, and keeps its keys in private fields.
 */
import { hkdfSync } from 'node:crypto';
import { inspect } from 'node:util';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from './bytes.js';

/** The purposes of the derived keys. */
export type KeyPurpose = 'preimage' | 'paymentAddr';

/** Length of the identity private key and of every derived key, in bytes. */
export const KEY_LENGTH = 32;

/** The largest key id: it travels in one byte of the payment_addr. */
export const MAX_KEY_ID = 255;

const LABEL_PURPOSE: { readonly [P in KeyPurpose]: string } = {
  preimage: 'preimage',
  paymentAddr: 'payment-addr',
};

/** The HKDF info label of a derived key, e.g. "lnmux/preimage/v0". Changing one changes every key. */
export function keyLabel(purpose: KeyPurpose, keyId: number): string {
  return `lnmux/${LABEL_PURPOSE[purpose]}/v${keyId}`;
}

/** What a keyring prints as (JSON and otherwise): public facts only. */
export interface RedactedKeyring {
  readonly kind: 'Keyring';
  /** Hex of the 33-byte compressed identity public key. */
  readonly nodePubkey: string;
  readonly currentKeyId: number;
  readonly keyIds: readonly number[];
  readonly secrets: '<redacted>';
}

/** The identity key and its derived keys. Create one with {@link deriveKeyring}. */
export interface Keyring {
  /** 33-byte compressed public key of the identity key: the virtual node's id (invoice payee). A copy. */
  readonly nodePubkey: Uint8Array;
  /** The key id new invoices are made with. */
  readonly currentKeyId: number;
  /** Every key id whose payment_addrs are accepted (includes currentKeyId), ascending. */
  readonly keyIds: readonly number[];
  /**
   * The 32-byte identity private key itself, for the BOLT 11 signature and the onion ECDH only.
   * A fresh copy: never log or store it.
   */
  identityPrivateKey(): Uint8Array;
  /**
   * The 32-byte key derived for `purpose` under `keyId`, a fresh copy; undefined if `keyId` is not one
   * of {@link keyIds} (a retired or unknown key generation).
   */
  derivedKey(purpose: KeyPurpose, keyId: number): Uint8Array | undefined;
  /** Redacted summary (no secret). */
  toJSON(): RedactedKeyring;
  /** Redacted summary (no secret). */
  toString(): string;
}

/** Options of {@link deriveKeyring}. */
export interface KeyringOptions {
  /** Key ids accepted when opening a payment_addr (integers 0..255). Default: [currentKeyId]. */
  readonly keyIds?: readonly number[];
  /** Key id for new invoices (0..255). Default 0. Added to keyIds if missing. */
  readonly currentKeyId?: number;
}

function assertKeyId(value: unknown, argument: string): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${argument}: expected a number`);
  if (!Number.isInteger(value) || value < 0 || value > MAX_KEY_ID) {
    throw new RangeError(`${argument}: expected an integer 0..${MAX_KEY_ID}, got ${value}`);
  }
}

function derive(identityKey: Uint8Array, purpose: KeyPurpose, keyId: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', identityKey, new Uint8Array(0), keyLabel(purpose, keyId), KEY_LENGTH));
}

class IdentityKeyring implements Keyring {
  readonly #identityKey: Uint8Array;
  readonly #nodePubkey: Uint8Array;
  readonly #derived: ReadonlyMap<string, Uint8Array>;
  readonly currentKeyId: number;
  readonly keyIds: readonly number[];

  constructor(identityKey: Uint8Array, currentKeyId: number, keyIds: readonly number[]) {
    this.#identityKey = identityKey;
    this.#nodePubkey = secp256k1.getPublicKey(identityKey, true);
    const derived = new Map<string, Uint8Array>();
    for (const keyId of keyIds) {
      for (const purpose of Object.keys(LABEL_PURPOSE) as KeyPurpose[]) {
        derived.set(`${purpose}/${keyId}`, derive(identityKey, purpose, keyId));
      }
    }
    this.#derived = derived;
    this.currentKeyId = currentKeyId;
    this.keyIds = Object.freeze([...keyIds]);
    Object.freeze(this);
  }

  get nodePubkey(): Uint8Array {
    return this.#nodePubkey.slice();
  }

  identityPrivateKey(): Uint8Array {
    return this.#identityKey.slice();
  }

  derivedKey(purpose: KeyPurpose, keyId: number): Uint8Array | undefined {
    return this.#derived.get(`${purpose}/${keyId}`)?.slice();
  }

  toJSON(): RedactedKeyring {
    return {
      kind: 'Keyring',
      nodePubkey: bytesToHex(this.#nodePubkey),
      currentKeyId: this.currentKeyId,
      keyIds: this.keyIds,
      secrets: '<redacted>',
    };
  }

  toString(): string {
    return `Keyring(nodePubkey=${bytesToHex(this.#nodePubkey)}, keyIds=[${this.keyIds.join(',')}], secrets=<redacted>)`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Builds the keyring of `identityKey`, the 32-byte identity private key (big-endian secp256k1 scalar,
 * 0 < k < n). The key is copied; the caller may wipe its own copy afterwards.
 *
 * @throws TypeError if `identityKey` is not a Uint8Array; RangeError if it is not 32 bytes or not a
 *   valid secp256k1 scalar (the message never contains the key); TypeError / RangeError naming the
 *   option for a key id that is not an integer 0..255.
 */
export function deriveKeyring(identityKey: Uint8Array, options: KeyringOptions = {}): Keyring {
  if (!(identityKey instanceof Uint8Array)) throw new TypeError('identityKey: expected a Uint8Array');
  if (identityKey.length !== KEY_LENGTH) {
    throw new RangeError(`identityKey: expected ${KEY_LENGTH} bytes, got ${identityKey.length}`);
  }
  if (!secp256k1.utils.isValidSecretKey(identityKey)) {
    throw new RangeError('identityKey: not a valid secp256k1 private key (expected 0 < k < n)');
  }
  const currentKeyId = options.currentKeyId ?? 0;
  assertKeyId(currentKeyId, 'options.currentKeyId');
  const keyIds = new Set<number>([currentKeyId]);
  if (options.keyIds !== undefined) {
    if (!Array.isArray(options.keyIds)) throw new TypeError('options.keyIds: expected an array');
    options.keyIds.forEach((keyId, i) => {
      assertKeyId(keyId, `options.keyIds[${i}]`);
      keyIds.add(keyId);
    });
  }
  return new IdentityKeyring(identityKey.slice(), currentKeyId, [...keyIds].sort((a, b) => a - b));
}
