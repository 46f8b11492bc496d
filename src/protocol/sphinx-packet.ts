/**
 * The layout of the BOLT 4 `onion_packet` ("Packet Structure"), version 0:
 * `version` (1 byte) | `public_key` (33) | `hop_payloads` (1300) | `hmac` (32) = 1366 bytes.
 */

/** Total length of an onion packet, bytes. */
export const ONION_PACKET_LENGTH = 1366;
/** The only version this specification defines. */
export const ONION_VERSION = 0;
/** Length of the `hop_payloads` field, bytes. */
export const HOP_PAYLOADS_LENGTH = 1300;
/** Length of every Sphinx HMAC and shared secret, bytes. */
export const HMAC_LENGTH = 32;

/** Offset of `public_key` in the packet. */
export const PUBLIC_KEY_OFFSET = 1;
/** Offset of `hop_payloads` in the packet. */
export const HOP_PAYLOADS_OFFSET = 34;
/** Offset of `hmac` in the packet. */
export const HMAC_OFFSET = HOP_PAYLOADS_OFFSET + HOP_PAYLOADS_LENGTH;

/**
 * The smallest valid `payload_length`: no TLV payload is shorter than 2 bytes, and the lengths 0
 * (the retired legacy format) and 1 are reserved (BOLT 4 "Packet Structure", "Onion Decryption").
 */
export const MIN_HOP_PAYLOAD_LENGTH = 2;
