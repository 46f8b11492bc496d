/**
 * Stateless invoice data: the invoice's terms travel inside its `payment_addr` (BOLT 11 `s` field,
 * BOLT 4 `payment_data.payment_secret` in the final hop payload), so that an incoming HTLC can be
 * checked and settled from its onion alone, even when the invoice record is not at hand.
 *
 * payment_addr layout (32 bytes):
 *
 *   byte  0        key id (clear): which derived keys (keyring.ts) made it; 0 today
 *   bytes 1..16    nonce: 16 random bytes, fresh per invoice
 *   bytes 17..31   ChaCha20(payment_addr key, iv = nonce) of the 15-byte plaintext
 *                    amount_msat (u64, big-endian) || expires_at (u40, big-endian, unix seconds) ||
 *                    flags (1 byte) || 1 reserved zero byte
 *
 *   flags        bit 0 (AMOUNTLESS): the payer chooses the amount (an invoice without BOLT 11 amount);
 *                amount_msat is then the least the payer may pay (0: any amount). Other bits are zero.
 *
 *   preimage     = HMAC-SHA256(preimage key, payment_addr)    (all 32 bytes)
 *   payment_hash = SHA256(preimage)
 *
 * Confidentiality: amount and expiry are encrypted; the only clear byte is the key id, the same for
 * every invoice of a key generation. The nonce makes every payment_addr unique and random-looking, even
 * for two invoices with the same terms (which also keeps payment_addr's BOLT 11 job: an unguessable
 * secret that stops intermediate nodes from probing the payee). The nonce is the whole 16-byte ChaCha20
 * IV as node:crypto / OpenSSL take it (4-byte little-endian block counter, then 12-byte nonce): a random
 * 128-bit block position. Only 15 bytes of keystream are used (one block, no counter wrap), so two
 * invoices share keystream only if their 16 random bytes collide (birthday bound 2^64 invoices).
 *
 * Authenticity does not need a tag inside the 32 bytes: the payment hash is one. Whoever does not hold
 * the preimage key cannot compute the preimage of a payment_addr, so a changed byte anywhere (key id,
 * nonce or ciphertext; ChaCha20 alone is malleable) gives a payment hash that no HTLC carries. An HTLC
 * proves itself by its payment_addr (from its MPP record) re-deriving its payment hash: check the hash
 * BEFORE trusting the terms ({@link openPaymentAddr} with the HTLC's payment hash does it).
 *
 * Versus NYDIG's lnmux (Go), which put expiry and amount in the clear in the last 16 bytes: here the
 * holder of the invoice cannot read them from the payment_addr, the keys are derived per purpose rather
 * than HMAC keyed with the identity key itself, and the key id allows rotation.
 *
 * Pure functions: no clock (the caller passes and checks times), randomness injectable.
 */
import { createCipheriv, createHash, createHmac, randomBytes as nodeRandomBytes } from 'node:crypto';
import { equalBytes } from './bytes.js';
import type { Keyring } from './keyring.js';
import { err, ok, type Result } from './result.js';

/** Length of a payment_addr (BOLT 11 `s`, BOLT 4 `payment_secret`), in bytes. */
export const PAYMENT_ADDR_LENGTH = 32;
/** Length of the random nonce inside a payment_addr, in bytes. */
export const PAYMENT_ADDR_NONCE_LENGTH = 16;
/** Largest invoice amount: u64, in msat. */
export const MAX_AMOUNT_MSAT = 0xffff_ffff_ffff_ffffn;
/**
 * Largest expiry time, unix seconds: 2^40 - 1 (year 36812), the 5 bytes the payment_addr gives it.
 * Far past any real expiry (BOLT 11 timestamps are 35 bits, up to year 3058) and exact in a JS number.
 */
export const MAX_EXPIRES_AT = 2 ** 40 - 1;

const KEY_ID_OFFSET = 0;
const NONCE_OFFSET = 1;
const CIPHERTEXT_OFFSET = NONCE_OFFSET + PAYMENT_ADDR_NONCE_LENGTH; // 17
const PLAINTEXT_LENGTH = PAYMENT_ADDR_LENGTH - CIPHERTEXT_OFFSET; // 15: 8 amount + 5 expiry + flags + reserved
const FLAGS_OFFSET = 13;
const RESERVED_OFFSET = 14;
/** flags bit 0: the payer chooses the amount; the amount field is the minimum (0: none). */
const FLAG_AMOUNTLESS = 0x01;
const HASH_LENGTH = 32;

/**
 * The terms an invoice's payment_addr carries. An invoice names its amount (`amountMsat`), or leaves it
 * to the payer (an amountless invoice: no `amountMsat`, and maybe a `minAmountMsat`).
 */
export interface InvoiceTerms {
  /** Invoice amount in msat (u64, at least 1); absent: the payer chooses the amount. */
  readonly amountMsat?: bigint;
  /** Amountless invoices only: the least the payer may pay, msat (u64, at least 1); absent: any amount. */
  readonly minAmountMsat?: bigint;
  /** When the invoice expires, unix seconds (integer, 0..{@link MAX_EXPIRES_AT}). */
  readonly expiresAt: number;
}

/** What {@link createStatelessInvoice} makes. `preimage` is secret: never log it. */
export interface StatelessInvoice {
  /** The key id in byte 0 of paymentAddr. */
  readonly keyId: number;
  /** 32 bytes: the invoice's payment secret (BOLT 11 `s`). */
  readonly paymentAddr: Uint8Array;
  /** 32 bytes: HMAC-SHA256(preimage key, paymentAddr). */
  readonly preimage: Uint8Array;
  /** 32 bytes: SHA256(preimage), the invoice's payment hash (BOLT 11 `p`). */
  readonly paymentHash: Uint8Array;
}

/** A payment_addr opened with {@link openPaymentAddr}: the terms, the key id, the preimage and its hash. */
export interface OpenedPaymentAddr extends InvoiceTerms {
  readonly keyId: number;
  readonly preimage: Uint8Array;
  readonly paymentHash: Uint8Array;
}

/** Why a payment_addr did not open. Every kind means "not our invoice" to the payer (BOLT 4). */
export type OpenPaymentAddrError =
  /** Not 32 bytes, a payment hash not 32 bytes, or content no version of lnmux writes. */
  | { readonly kind: 'malformed'; readonly reason: string }
  /** Byte 0 names a key id this keyring does not accept (retired, or never ours). */
  | { readonly kind: 'unknownKeyId'; readonly keyId: number }
  /** The payment_addr does not derive the given payment hash: forged, tampered or another key's. */
  | { readonly kind: 'hashMismatch' };

/** Source of randomness: returns `length` random bytes. */
export type RandomBytes = (length: number) => Uint8Array;

const defaultRandom: RandomBytes = (length) => nodeRandomBytes(length);

function assertTerms(terms: InvoiceTerms): void {
  if (typeof terms !== 'object' || terms === null) throw new TypeError('terms: expected InvoiceTerms');
  const { amountMsat, minAmountMsat, expiresAt } = terms;
  for (const [field, value] of [['amountMsat', amountMsat], ['minAmountMsat', minAmountMsat]] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'bigint') throw new TypeError(`terms.${field}: expected a bigint (msat)`);
    if (value < 1n || value > MAX_AMOUNT_MSAT) throw new RangeError(`terms.${field}: expected 1..2^64-1 msat, got ${value}`);
  }
  if (amountMsat !== undefined && minAmountMsat !== undefined) {
    throw new RangeError('terms.minAmountMsat: only for an invoice without amountMsat (the payer chooses the amount)');
  }
  if (typeof expiresAt !== 'number') throw new TypeError('terms.expiresAt: expected a number (unix seconds)');
  if (!Number.isInteger(expiresAt) || expiresAt < 0 || expiresAt > MAX_EXPIRES_AT) {
    throw new RangeError(`terms.expiresAt: expected an integer 0..${MAX_EXPIRES_AT} (unix seconds), got ${expiresAt}`);
  }
}

/** ChaCha20 is its own inverse: the same call encrypts and decrypts. */
function chacha20(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = createCipheriv('chacha20', key, iv);
  const out = new Uint8Array(data.length);
  out.set(cipher.update(data));
  // final() yields nothing for a stream cipher; called for form.
  cipher.final();
  return out;
}

function derivePreimage(preimageKey: Uint8Array, paymentAddr: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', preimageKey).update(paymentAddr).digest());
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** The payment hash of a preimage: SHA256 (BOLT 2 `update_fulfill_htlc`), 32 bytes. */
export function paymentHashOf(preimage: Uint8Array): Uint8Array {
  return sha256(preimage);
}

/**
 * Makes the payment_addr, preimage and payment hash of a new invoice with `terms`, under the
 * keyring's current key id. Pure but for `random` (default node:crypto randomBytes): inject it to get
 * deterministic output in tests. Two calls with the same terms give different payment_addrs.
 *
 * @throws TypeError / RangeError naming the field for terms out of range (an amount or minimum of 0 or
 *   above 2^64-1 msat, a minimum with an amount, expiry not an integer 0..{@link MAX_EXPIRES_AT} s), or
 *   if `random` does not return 16 bytes;
 *   Error if the keyring lacks the keys of its current key id (a broken Keyring implementation).
 */
export function createStatelessInvoice(
  keyring: Keyring,
  terms: InvoiceTerms,
  random: RandomBytes = defaultRandom,
): StatelessInvoice {
  assertTerms(terms);
  const keyId = keyring.currentKeyId;
  const addrKey = keyring.derivedKey('paymentAddr', keyId);
  const preimageKey = keyring.derivedKey('preimage', keyId);
  if (addrKey === undefined || preimageKey === undefined) {
    throw new Error(`keyring: no derived keys for its current key id ${keyId}`);
  }
  const nonce = random(PAYMENT_ADDR_NONCE_LENGTH);
  if (!(nonce instanceof Uint8Array)) throw new TypeError('random: expected it to return a Uint8Array');
  if (nonce.length !== PAYMENT_ADDR_NONCE_LENGTH) {
    throw new RangeError(`random: expected ${PAYMENT_ADDR_NONCE_LENGTH} bytes, got ${nonce.length}`);
  }

  const plaintext = new Uint8Array(PLAINTEXT_LENGTH);
  const view = new DataView(plaintext.buffer);
  const amountless = terms.amountMsat === undefined;
  view.setBigUint64(0, amountless ? (terms.minAmountMsat ?? 0n) : terms.amountMsat);
  // u40 expiry: high byte, then the low 32 bits (a JS number is exact to 2^53).
  view.setUint8(8, Math.floor(terms.expiresAt / 2 ** 32));
  view.setUint32(9, terms.expiresAt % 2 ** 32);
  view.setUint8(FLAGS_OFFSET, amountless ? FLAG_AMOUNTLESS : 0);
  // byte 14 stays zero (reserved)

  const paymentAddr = new Uint8Array(PAYMENT_ADDR_LENGTH);
  paymentAddr[KEY_ID_OFFSET] = keyId;
  paymentAddr.set(nonce, NONCE_OFFSET);
  paymentAddr.set(chacha20(addrKey, nonce, plaintext), CIPHERTEXT_OFFSET);

  const preimage = derivePreimage(preimageKey, paymentAddr);
  return { keyId, paymentAddr, preimage, paymentHash: sha256(preimage) };
}

/**
 * Opens a payment_addr made by {@link createStatelessInvoice}: re-derives the preimage and its hash
 * and, when they match, decrypts the terms.
 *
 * With `paymentHash` (the HTLC's payment hash, 32 bytes), which is how an HTLC must be checked: the
 * terms are returned only if the payment_addr derives exactly that hash (compared in constant time),
 * else `hashMismatch`; nothing is decrypted for a mismatch.
 * Without it, the terms are NOT authenticated (any 32 bytes under a known key id decrypt to some
 * terms): the caller must compare `value.paymentHash` with the expected hash before trusting them.
 *
 * Does not look at the clock: the caller compares `expiresAt` with its own time.
 * Never throws for any `paymentAddr` / `paymentHash` bytes; returns a Result.
 */
export function openPaymentAddr(
  keyring: Keyring,
  paymentAddr: Uint8Array,
  paymentHash?: Uint8Array,
): Result<OpenedPaymentAddr, OpenPaymentAddrError> {
  if (!(paymentAddr instanceof Uint8Array) || paymentAddr.length !== PAYMENT_ADDR_LENGTH) {
    return err({ kind: 'malformed', reason: `payment_addr must be ${PAYMENT_ADDR_LENGTH} bytes` });
  }
  if (paymentHash !== undefined && (!(paymentHash instanceof Uint8Array) || paymentHash.length !== HASH_LENGTH)) {
    return err({ kind: 'malformed', reason: `payment hash must be ${HASH_LENGTH} bytes` });
  }
  const keyId = paymentAddr[KEY_ID_OFFSET] as number;
  const preimageKey = keyring.derivedKey('preimage', keyId);
  const addrKey = keyring.derivedKey('paymentAddr', keyId);
  if (preimageKey === undefined || addrKey === undefined) return err({ kind: 'unknownKeyId', keyId });

  const preimage = derivePreimage(preimageKey, paymentAddr);
  const derivedHash = sha256(preimage);
  if (paymentHash !== undefined && !equalBytes(derivedHash, paymentHash)) return err({ kind: 'hashMismatch' });

  const nonce = paymentAddr.subarray(NONCE_OFFSET, CIPHERTEXT_OFFSET);
  const plaintext = chacha20(addrKey, nonce, paymentAddr.subarray(CIPHERTEXT_OFFSET));
  const view = new DataView(plaintext.buffer);
  const flags = view.getUint8(FLAGS_OFFSET);
  if ((flags & ~FLAG_AMOUNTLESS) !== 0 || view.getUint8(RESERVED_OFFSET) !== 0) {
    return err({ kind: 'malformed', reason: 'unknown flags or reserved byte not zero' });
  }
  const amount = view.getBigUint64(0);
  const expiresAt = view.getUint8(8) * 2 ** 32 + view.getUint32(9);
  const opened = { keyId, expiresAt, preimage, paymentHash: derivedHash };
  if ((flags & FLAG_AMOUNTLESS) !== 0) return ok(amount === 0n ? opened : { ...opened, minAmountMsat: amount });
  if (amount === 0n) return err({ kind: 'malformed', reason: 'amount is zero' });
  return ok({ ...opened, amountMsat: amount });
}
