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

export { virtualChannelId } from '../protocol/virtual-scid.js';
