/**
 * The Go lnmux's stateless payment_addr (NYDIG-OSS/lnmux, `stateless_data.go`, read at 9a514af), so that
 * the unexpired invoices of a Go lnmux stay payable after its identity key moves to this lnmux. Opening
 * only: lnmux never makes such invoices (their terms are readable by whoever holds the invoice).
 *
 * payment_addr layout (32 bytes, all in the clear):
 *
 *   bytes  0..15   nonce: 16 random bytes, fresh per invoice
 *   bytes 16..23   expires_at: u64 big-endian, unix seconds (the Go creator writes creation time +
 *                  the requested expiry, the same instant as the BOLT 11 timestamp + `x`)
 *   bytes 24..31   amount_msat: u64 big-endian, msat (the Go creator writes a positive int64)
 *
 *   preimage     = HMAC-SHA256(identity private key, payment_addr)   (the 32-byte secp256k1 scalar
 *                                                                    itself is the HMAC key)
 *   payment_hash = SHA256(preimage)
 *
 * Nothing in these 32 bytes marks them as the Go scheme rather than ours (stateless-invoice.ts): no
 * version, no key id, no tag. Byte 0 is random here and a key id there; bytes 16..19 and 24..25 are zero
 * for any real Go invoice (expiry before 2106, amount below 2^48 msat) but ours can be zero there by
 * chance too. The payment hash check is what tells them apart: a payment_addr opens under a scheme only
 * if it derives the HTLC's payment hash under that scheme's key, and no payment_addr does both
 * (that would be an HMAC-SHA256 collision between two keys).
 *
 * Pure functions: no clock (the caller compares `expiresAt` with its own time), no I/O.
 */
import { createHash, createHmac } from 'node:crypto';
import { equalBytes, readU64 } from './bytes.js';
import { err, ok, type Result } from './result.js';

/** Length of a payment_addr and of the Go scheme's every part but the terms, in bytes. */
const LENGTH = 32;
const NONCE_LENGTH = 16;
const EXPIRES_AT_OFFSET = 16;
const AMOUNT_OFFSET = 24;
/** The Go lnmux reads the amount as an int64 and its creator takes a positive int64: 1..2^63-1 msat. */
const MAX_GO_AMOUNT_MSAT = 2n ** 63n - 1n;

/** The terms a Go lnmux payment_addr carries, opened by {@link openGoLnmuxPaymentAddr}. */
export interface GoLnmuxTerms {
  /** Invoice amount in msat, 1..2^63-1. The Go lnmux settles only a set whose total_msat is exactly this. */
  readonly amountMsat: bigint;
  /** When the invoice expires, unix seconds (integer, 0..2^53-1). */
  readonly expiresAt: number;
  /** Bytes 0..15 of the payment_addr: the invoice's random nonce. */
  readonly nonce: Uint8Array;
  /** 32 bytes: HMAC-SHA256(identity private key, payment_addr). Secret: never log it. */
  readonly preimage: Uint8Array;
  /** 32 bytes: SHA256(preimage), equal to the payment hash that was checked. */
  readonly paymentHash: Uint8Array;
}

/** Why a payment_addr did not open as the Go lnmux's. Every kind means "not our invoice" to the payer (BOLT 4). */
export type OpenGoLnmuxPaymentAddrError =
  /**
   * A payment_addr or payment hash that is not 32 bytes, or authentic terms the Go lnmux never writes
   * nor settles (amount 0, amount at or above 2^63 msat, expiry above 2^53-1 s).
   */
  | { readonly kind: 'malformed'; readonly reason: string }
  /** The payment_addr does not derive the payment hash under this key: ours, another key's, or forged. */
  | { readonly kind: 'hashMismatch' };

/**
 * Opens a payment_addr made by the Go lnmux with `identityPrivateKey` (the 32-byte secp256k1 private
 * key of the virtual node, as the Go lnmux's `identityKey` setting held it): re-derives the preimage,
 * checks in constant time that it hashes to `paymentHash` (the HTLC's, 32 bytes), and only then reads
 * the terms. Amount in msat (bigint), expiry in unix seconds; the caller checks the expiry against its
 * clock and the set's total_msat against the amount.
 *
 * Never throws for any `paymentAddr` / `paymentHash` bytes: the errors are
 * {@link OpenGoLnmuxPaymentAddrError} (`malformed`, `hashMismatch`).
 *
 * @throws TypeError if `identityPrivateKey` is not a Uint8Array, RangeError if it is not 32 bytes
 *   (a caller's error, not network input; the message never contains the key).
 */
export function openGoLnmuxPaymentAddr(
  identityPrivateKey: Uint8Array,
  paymentAddr: Uint8Array,
  paymentHash: Uint8Array,
): Result<GoLnmuxTerms, OpenGoLnmuxPaymentAddrError> {
  if (!(identityPrivateKey instanceof Uint8Array)) throw new TypeError('identityPrivateKey: expected a Uint8Array');
  if (identityPrivateKey.length !== LENGTH) {
    throw new RangeError(`identityPrivateKey: expected ${LENGTH} bytes, got ${identityPrivateKey.length}`);
  }
  if (!(paymentAddr instanceof Uint8Array) || paymentAddr.length !== LENGTH) {
    return err({ kind: 'malformed', reason: `payment_addr must be ${LENGTH} bytes` });
  }
  if (!(paymentHash instanceof Uint8Array) || paymentHash.length !== LENGTH) {
    return err({ kind: 'malformed', reason: `payment hash must be ${LENGTH} bytes` });
  }

  const preimage = new Uint8Array(createHmac('sha256', identityPrivateKey).update(paymentAddr).digest());
  const derivedHash = new Uint8Array(createHash('sha256').update(preimage).digest());
  if (!equalBytes(derivedHash, paymentHash)) return err({ kind: 'hashMismatch' });

  // Authentic from here on: only the key's holder could make these bytes.
  const amountMsat = readU64(paymentAddr, AMOUNT_OFFSET);
  if (amountMsat === 0n) return err({ kind: 'malformed', reason: 'amount is zero (an amountless Go invoice, never payable)' });
  if (amountMsat > MAX_GO_AMOUNT_MSAT) return err({ kind: 'malformed', reason: 'amount is 2^63 msat or more' });
  const expiresAt = readU64(paymentAddr, EXPIRES_AT_OFFSET);
  if (expiresAt > BigInt(Number.MAX_SAFE_INTEGER)) {
    return err({ kind: 'malformed', reason: 'expiry is above 2^53-1 unix seconds' });
  }
  return ok({
    amountMsat,
    expiresAt: Number(expiresAt),
    nonce: paymentAddr.slice(0, NONCE_LENGTH),
    preimage,
    paymentHash: derivedHash,
  });
}
