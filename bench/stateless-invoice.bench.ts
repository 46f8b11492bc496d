/**
 * Cost of the stateless-invoice checks on the HTLC hot path: opening a payment_addr (HMAC, SHA256,
 * ChaCha20) and computing a set_id, next to one bare HMAC-SHA256 of 32 bytes (node:crypto), the
 * floor of any preimage derivation, measured in the same run.
 */
import { createHmac } from 'node:crypto';
import { hexToBytes } from '../src/protocol/bytes.js';
import { deriveKeyring } from '../src/protocol/keyring.js';
import { type CircuitKey, setId } from '../src/protocol/index.js';
import { createStatelessInvoice, openPaymentAddr } from '../src/protocol/stateless-invoice.js';
import { measureSync, printTable } from './lib/measure.js';

const keyring = deriveKeyring(new Uint8Array(32).fill(0x11));
const invoice = createStatelessInvoice(keyring, { amountMsat: 6000n, expiresAt: 1_650_000_000 });
const hmacKey = keyring.derivedKey('preimage', 0) ?? new Uint8Array(32);
const node = hexToBytes('020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8');
const set: CircuitKey[] = [3n, 1n, 2n].map((htlcId) => ({ nodePubkey: node, chanId: 1161084279062528n, htlcId }));

// 15 rounds: the machine is shared, the median of more rounds is steadier.
const OPS = 2_000;
const ROUNDS = 15;
const baseline = measureSync(
  'HMAC-SHA256 of 32 bytes (baseline)',
  () => createHmac('sha256', hmacKey).update(invoice.paymentAddr).digest(),
  OPS,
  ROUNDS,
);
const rows = [
  baseline,
  measureSync('openPaymentAddr with the HTLC hash', () => openPaymentAddr(keyring, invoice.paymentAddr, invoice.paymentHash), OPS, ROUNDS),
  measureSync('createStatelessInvoice', () => createStatelessInvoice(keyring, { amountMsat: 6000n, expiresAt: 1_650_000_000 }), OPS, ROUNDS),
  measureSync('setId of 3 HTLCs', () => setId(set), OPS, ROUNDS),
];
printTable(rows, baseline);
