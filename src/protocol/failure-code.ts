/**
 * BOLT 4 "Failure Messages": the numeric `failure_code`s. The top byte is a set of flags
 * (BADONION, PERM, NODE, UPDATE), the low byte numbers the failure.
 */

/** The flag bits of a `failure_code` (BOLT 4 "Failure Messages"). */
export const FAILURE_FLAG = {
  /** Unparsable onion encrypted by the sending peer. */
  BADONION: 0x8000,
  /** Permanent failure (otherwise transient). */
  PERM: 0x4000,
  /** Node failure (otherwise channel). */
  NODE: 0x2000,
  /** A channel forwarding parameter was violated. */
  UPDATE: 0x1000,
} as const;

const { BADONION, PERM, NODE, UPDATE } = FAILURE_FLAG;

/** Every `failure_code` BOLT 4 defines today, by the `kind` of its {@link FailureMessage}. */
export const FAILURE_CODE = {
  temporaryNodeFailure: NODE | 2,
  permanentNodeFailure: PERM | NODE | 2,
  requiredNodeFeatureMissing: PERM | NODE | 3,
  invalidOnionVersion: BADONION | PERM | 4,
  invalidOnionHmac: BADONION | PERM | 5,
  invalidOnionKey: BADONION | PERM | 6,
  temporaryChannelFailure: UPDATE | 7,
  permanentChannelFailure: PERM | 8,
  requiredChannelFeatureMissing: PERM | 9,
  unknownNextPeer: PERM | 10,
  amountBelowMinimum: UPDATE | 11,
  feeInsufficient: UPDATE | 12,
  incorrectCltvExpiry: UPDATE | 13,
  expiryTooSoon: UPDATE | 14,
  incorrectOrUnknownPaymentDetails: PERM | 15,
  finalIncorrectCltvExpiry: 18,
  finalIncorrectHtlcAmount: 19,
  channelDisabled: UPDATE | 20,
  expiryTooFar: 21,
  invalidOnionPayload: PERM | 22,
  mppTimeout: 23,
  invalidOnionBlinding: BADONION | PERM | 24,
} as const;

/** The `kind` of every failure message with a code BOLT 4 defines. */
export type KnownFailureKind = keyof typeof FAILURE_CODE;

const KIND_BY_CODE: ReadonlyMap<number, KnownFailureKind> = new Map(
  Object.entries(FAILURE_CODE).map(([kind, code]) => [code, kind as KnownFailureKind]),
);

/** The kind BOLT 4 gives `code`, or undefined for a code it does not define. */
export function failureKindOf(code: number): KnownFailureKind | undefined {
  return KIND_BY_CODE.get(code);
}
