/**
 * Cost of the codecs this layer runs per HTLC at the final hop: decoding the hop payload, and
 * encoding (or decoding) the failure message when the HTLC is refused, next to the one secp256k1
 * ECDH (tiny-secp256k1 point multiplication) every HTLC needs to peel its onion, measured in the
 * same run.
 */
import { pointMultiply } from 'tiny-secp256k1';
import { hexToBytes } from '../src/protocol/bytes.js';
import { decodeFailureMessage, encodeFailureMessage, type FailureMessage } from '../src/protocol/failure-message.js';
import { decodeHopPayload, encodeHopPayload } from '../src/protocol/hop-payload.js';
import { measureSync, printTable } from './lib/measure.js';

// A final payload as lnmux receives it: amt_to_forward, outgoing_cltv_value, payment_data.
const payload = encodeHopPayload({
  amtToForwardMsat: 250_000_000n,
  outgoingCltvValue: 850_123,
  paymentData: { paymentAddr: new Uint8Array(32).fill(0x42), totalMsat: 1_000_000_000n },
  otherRecords: [],
});
const refusal: FailureMessage = { kind: 'incorrectOrUnknownPaymentDetails', htlcMsat: 250_000_000n, height: 850_000 };
const refusalBytes = encodeFailureMessage(refusal);
const point = hexToBytes('02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619');
const scalar = new Uint8Array(32).fill(0x41);

const ROUNDS = 15;
const baseline = measureSync('secp256k1 ECDH point multiply (baseline)', () => pointMultiply(point, scalar, true), 200, ROUNDS);
const rows = [
  baseline,
  measureSync(`decodeHopPayload, final, ${payload.length} bytes`, () => decodeHopPayload(payload, 'final'), 20_000, ROUNDS),
  measureSync('encodeFailureMessage incorrect_or_unknown_payment_details', () => encodeFailureMessage(refusal), 20_000, ROUNDS),
  measureSync('decodeFailureMessage incorrect_or_unknown_payment_details', () => decodeFailureMessage(refusalBytes), 20_000, ROUNDS),
];
printTable(rows, baseline);
