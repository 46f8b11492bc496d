/**
 * The protocol core: pure Lightning codecs, no I/O. BOLT 4 final-hop Sphinx (peel, build, failure
 * encryption), BOLT 1 TLV, BOLT 4 hop payloads and failure messages, BOLT 11 invoices, and lnmux's own
 * identifiers (virtual scid, set_id, stateless payment_addr).
 */
export { ok, err, type Result } from './result.js';
export { bytesToHex, concatBytes, equalBytes, hexToBytes, u64ToBytes, utf8ToBytes } from './bytes.js';
export { decodeBigSize, encodeBigSize, type BigSizeError } from './bigsize.js';
export { decodeTlvStream, encodeTlvStream, type TlvError, type TlvRecord } from './tlv.js';
export {
  decodeHopPayload,
  decodeLegacyHopData,
  encodeHopPayload,
  encodeLegacyHopData,
  type LegacyHopData,
  HOP_PAYLOAD_TYPE,
  paymentMetadataOf,
  type HopPayload,
  type HopRole,
  type InvalidPayload,
  type PaymentData,
} from './hop-payload.js';
export {
  decodeFailureMessage,
  encodeFailureMessage,
  FAILURE_CODE,
  INTERCEPTOR_FAILURE_CODES,
  type InterceptorFailureCode,
  type FailureMessage,
  type FailureMessageError,
} from './failure-message.js';
export { ecdhWithPrivateKey, type Ecdh } from './ecdh.js';
export { ONION_PACKET_LENGTH } from './sphinx-packet.js';
export { peelOnion, type OnionError, type PeeledOnion } from './sphinx-peel.js';
export { buildOnion, type BuiltOnion, type OnionHop } from './sphinx-build.js';
export {
  createFailurePacket,
  decryptFailurePacket,
  wrapFailurePacket,
  FAILURE_PACKET_LENGTH,
  type DecryptedFailure,
} from './failure-onion.js';
export * from './bolt11.js';
export { virtualChannelId, formatShortChannelId } from './virtual-scid.js';
export { setId, SET_ID_LENGTH } from './set-id.js';
export {
  assertCircuitKey,
  circuitKeyFromString,
  circuitKeyString,
  encodeCircuitKey,
  equalCircuitKeys,
  CIRCUIT_KEY_LENGTH,
  type CircuitKey,
  type NodeCircuitKey,
} from './circuit-key.js';
export { deriveKeyring, type Keyring, type KeyringOptions } from './keyring.js';
export {
  createStatelessInvoice,
  openPaymentAddr,
  type InvoiceTerms,
  type OpenedPaymentAddr,
  type OpenPaymentAddrError,
  type RandomBytes,
  type StatelessInvoice,
  paymentHashOf,
} from './stateless-invoice.js';
export { openGoLnmuxPaymentAddr, type GoLnmuxTerms, type OpenGoLnmuxPaymentAddrError } from './go-lnmux-payment-addr.js';
