/**
 * The protocol core's public functions the simulator uses (src/protocol, PROTOCOL-API.md), gathered
 * in one place: the simulator builds, peels and fails real onions with exactly lnmux's own code.
 */
export { ecdhWithPrivateKey, type Ecdh } from '../protocol/ecdh.js';
export { peelOnion, type PeeledOnion, type OnionError } from '../protocol/sphinx-peel.js';
export { buildOnion } from '../protocol/sphinx-build.js';
export { createFailurePacket, wrapFailurePacket, decryptFailurePacket } from '../protocol/failure-onion.js';
export { decodeHopPayload, encodeHopPayload, type HopPayload } from '../protocol/hop-payload.js';
export { encodeFailureMessage, decodeFailureMessage, FAILURE_CODE, type FailureMessage } from '../protocol/failure-message.js';
export { decodeInvoice, encodeInvoice, type DecodedInvoice, type InvoiceFields, type RouteHintHop } from '../protocol/bolt11.js';

/**
 * DESIGN.md: the virtual channel id of a node is the last 8 bytes of its 33-byte compressed pubkey,
 * big-endian, with the top bit set. (Stand-in until protocol/virtual-scid.ts lands on this branch.)
 */
export function virtualChannelId(nodePubkey: Uint8Array): bigint {
  let value = 0n;
  for (const byte of nodePubkey.subarray(nodePubkey.length - 8)) value = (value << 8n) | BigInt(byte);
  return value | (1n << 63n);
}
