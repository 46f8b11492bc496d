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
 * The smallest valid TLV `payload_length`: no TLV payload is shorter than 2 bytes. A first byte of 0
 * marks the legacy format instead (below), and 1 is reserved (BOLT 4 "Packet Structure", "Onion Decryption").
 */
export const MIN_HOP_PAYLOAD_LENGTH = 2;

/**
 * The legacy (pre-TLV) `hop_data`: realm 0 (1 byte), short_channel_id (8), amt_to_forward (u64),
 * outgoing_cltv_value (u32) and 12 bytes of padding; the next HMAC follows. BOLT 4 retired it; LND's
 * reader (lightning-onion, DecodeHopPayload) still reads it when the first byte is 0.
 */
export const LEGACY_HOP_DATA_LENGTH = 33;
