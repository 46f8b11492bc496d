/**
 * Building a BOLT 4 onion for a route ("Packet Construction"), as the origin: the simulator's payer
 * and the tests. Point multiplications use tiny-secp256k1 like the peel (they are nearly all of a
 * build's time); the one scalar product per hop (blinding the ephemeral key) is a BigInt product
 * modulo the group order, which needs no curve library.
 */
import { isPrivate, pointFromScalar } from 'tiny-secp256k1';
import { encodeBigSize } from './bigsize.js';
import { ecdhWithPrivateKey } from './ecdh.js';
import {
  HMAC_LENGTH,
  HMAC_OFFSET,
  HOP_PAYLOADS_LENGTH,
  HOP_PAYLOADS_OFFSET,
  ONION_PACKET_LENGTH,
  ONION_VERSION,
  PUBLIC_KEY_OFFSET,
} from './sphinx-packet.js';
import { generateFiller } from './sphinx-filler.js';
import { blindingFactor, generateKey, hmacSha256 } from './sphinx-keys.js';
import { chacha20Stream, chacha20Xor } from './sphinx-stream.js';

/** One hop of a route: its node id and its raw payload. */
export interface OnionHop {
  /** The hop's node id, a 33-byte compressed secp256k1 public key. */
  readonly publicKey: Uint8Array;
  /**
   * The hop's TLV payload (encodeHopPayload), without the BigSize length prefix; or, with `format`
   * 'legacy', the 33-byte legacy `hop_data` (encodeLegacyHopData), written without a prefix.
   */
  readonly payload: Uint8Array;
  /** 'tlv' (default) or 'legacy' (the retired format LND still reads; for tests of it). */
  readonly format?: 'tlv' | 'legacy';
}

/** A built onion and the shared secret with each hop (to decrypt failures: decryptFailurePacket). */
export interface BuiltOnion {
  /** The 1366-byte `onion_packet` for the first hop. */
  readonly onion: Uint8Array;
  /** The 32-byte shared secret with each hop, in route order. */
  readonly sharedSecrets: Uint8Array[];
}

/** n, the order of secp256k1's group (SEC 2, 2.4.1). */
const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A 32-byte big-endian scalar as a bigint. */
function scalarFromBytes(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);
}

/** A scalar in [0, n) as 32 bytes, big-endian. */
function scalarToBytes(scalar: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex'));
}

/**
 * `a * b mod n` for 32-byte scalars: blinding an ephemeral private key (BOLT 4 "Blinding Ephemeral
 * Onion Keys"). Exported for its test; 32 bytes, big-endian.
 */
export function multiplyScalars(a: Uint8Array, b: Uint8Array): Uint8Array {
  return scalarToBytes((scalarFromBytes(a) * scalarFromBytes(b)) % CURVE_ORDER);
}

/**
 * Builds the onion that carries `hops[i].payload` to hop i, with `sessionKey` (32 bytes, a valid
 * secp256k1 scalar: use fresh randomness for real payments) and `associatedData` (for payments, the
 * payment hash). BOLT 4 "Packet Construction", "Shared Secret", "Blinding Ephemeral Onion Keys",
 * "Filler Generation"; the initial `hop_payloads` is the ChaCha20 stream of the `pad` key of the
 * session key, as in the specification's reference code and test vector.
 *
 * Payloads are not checked: one shorter than 2 bytes gives an onion that the hop rejects (useful in
 * tests). Throws RangeError when there is no hop, the session key or a hop's public key is invalid,
 * or the payloads with their length prefixes and HMACs exceed 1300 bytes.
 */
export function buildOnion(
  hops: readonly OnionHop[],
  sessionKey: Uint8Array,
  associatedData: Uint8Array,
): BuiltOnion {
  if (hops.length === 0) throw new RangeError('hops: expected at least one hop');
  if (!isPrivate(sessionKey)) throw new RangeError('sessionKey: expected a 32-byte secp256k1 scalar in [1, n)');
  const frames = hops.map((hop) => {
    const prefix = hop.format === 'legacy' ? new Uint8Array(0) : encodeBigSize(BigInt(hop.payload.length));
    return { prefix, shift: prefix.length + hop.payload.length + HMAC_LENGTH };
  });
  const total = frames.reduce((sum, frame) => sum + frame.shift, 0);
  if (total > HOP_PAYLOADS_LENGTH) {
    throw new RangeError(`hops: payloads take ${total} bytes with prefixes and HMACs, more than ${HOP_PAYLOADS_LENGTH}`);
  }

  const { sharedSecrets, firstEphemeralKey } = deriveSharedSecrets(hops, sessionKey);
  const filler = generateFiller(
    sharedSecrets,
    frames.map((frame) => frame.shift),
  );

  let mixHeader = chacha20Stream(generateKey('pad', sessionKey), HOP_PAYLOADS_LENGTH);
  let nextHmac: Uint8Array = new Uint8Array(HMAC_LENGTH);
  for (let i = hops.length - 1; i >= 0; i--) {
    const { prefix, shift } = frames[i]!;
    const payload = hops[i]!.payload;
    const sharedSecret = sharedSecrets[i]!;
    const shifted = new Uint8Array(HOP_PAYLOADS_LENGTH);
    shifted.set(prefix, 0);
    shifted.set(payload, prefix.length);
    shifted.set(nextHmac, prefix.length + payload.length);
    shifted.set(mixHeader.subarray(0, HOP_PAYLOADS_LENGTH - shift), shift);
    mixHeader = chacha20Xor(generateKey('rho', sharedSecret), shifted);
    if (i === hops.length - 1) mixHeader.set(filler, HOP_PAYLOADS_LENGTH - filler.length);
    nextHmac = hmacSha256(generateKey('mu', sharedSecret), mixHeader, associatedData);
  }

  const onion = new Uint8Array(ONION_PACKET_LENGTH);
  onion[0] = ONION_VERSION;
  onion.set(firstEphemeralKey, PUBLIC_KEY_OFFSET);
  onion.set(mixHeader, HOP_PAYLOADS_OFFSET);
  onion.set(nextHmac, HMAC_OFFSET);
  return { onion, sharedSecrets };
}

/** The shared secret with each hop, blinding the ephemeral key from hop to hop. Throws RangeError. */
function deriveSharedSecrets(
  hops: readonly OnionHop[],
  sessionKey: Uint8Array,
): { sharedSecrets: Uint8Array[]; firstEphemeralKey: Uint8Array } {
  const sharedSecrets: Uint8Array[] = [];
  let ephemeralPrivate: Uint8Array = Uint8Array.from(sessionKey);
  let firstEphemeralKey: Uint8Array | undefined;
  hops.forEach((hop, index) => {
    const ephemeralPublic = pointFromScalar(ephemeralPrivate, true);
    if (ephemeralPublic === null) throw new RangeError(`hops[${index}]: the blinded ephemeral key is zero`);
    firstEphemeralKey ??= ephemeralPublic;
    const sharedSecret = ecdhWithPrivateKey(ephemeralPrivate)(hop.publicKey);
    if (sharedSecret === undefined) throw new RangeError(`hops[${index}].publicKey: not a valid compressed point`);
    sharedSecrets.push(sharedSecret);
    // A zero product (a blinding factor that is 0 mod n, probability ~2^-256) fails pointFromScalar above.
    ephemeralPrivate = multiplyScalars(ephemeralPrivate, blindingFactor(ephemeralPublic, sharedSecret));
  });
  return { sharedSecrets, firstEphemeralKey: firstEphemeralKey! };
}
