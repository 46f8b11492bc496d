/**
 * BOLT 11: making (encode + sign) and reading (decode + recover) an lnmux invoice with two route
 * hints, next to the raw secp256k1 operation each one needs, measured in the same run. The noble
 * rows show why signing uses tiny-secp256k1 (libsecp256k1 in WebAssembly).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as tiny from 'tiny-secp256k1';
import { hexToBytes, utf8ToBytes } from '../src/protocol/bytes.js';
import { decodeInvoice, encodeInvoice, type InvoiceFields } from '../src/protocol/bolt11.js';
import { publicKeyOf } from '../src/protocol/bolt11-signature.js';
import { measureSync, printTable } from './lib/measure.js';

const key = hexToBytes('4d'.repeat(32));
const hop = (seed: string) => ({
  pubkey: publicKeyOf(hexToBytes(seed.repeat(32))),
  shortChannelId: 0x8000_0000_0000_0001n,
  feeBaseMsat: 0,
  feeProportionalMillionths: 0,
  cltvExpiryDelta: 40,
});
const fields: InvoiceFields = {
  network: 'bc',
  amountMsat: 123_456_789n,
  timestamp: 1_700_000_000,
  paymentHash: sha256(utf8ToBytes('preimage')),
  paymentSecret: hexToBytes('5e'.repeat(32)),
  description: 'lnmux benchmark invoice',
  expirySeconds: 3600,
  minFinalCltvExpiryDelta: 40,
  features: { varOnionOptin: 'required', paymentSecret: 'required', basicMpp: 'optional' },
  routeHints: [[hop('a1')], [hop('b2')]],
};
const invoice = encodeInvoice(fields, key);
const hash = sha256(utf8ToBytes(invoice));
const { signature, recoveryId } = tiny.signRecoverable(hash, key);
const nobleSignature = secp256k1.sign(hash, key, { prehash: false, format: 'recovered' });

const rounds = 7;
const ops = 300;
const rawSign = measureSync('tiny-secp256k1 signRecoverable', () => tiny.signRecoverable(hash, key), ops, rounds);
printTable(
  [
    rawSign,
    measureSync('encodeInvoice (2 route hints)', () => encodeInvoice(fields, key), ops, rounds),
    measureSync('@noble/curves sign (recovered)', () => secp256k1.sign(hash, key, { prehash: false, format: 'recovered' }), ops, rounds),
  ],
  rawSign,
);
const rawRecover = measureSync('tiny-secp256k1 recover', () => tiny.recover(hash, signature, recoveryId, true), ops, rounds);
printTable(
  [
    rawRecover,
    measureSync('decodeInvoice (2 route hints)', () => decodeInvoice(invoice), ops, rounds),
    measureSync('@noble/curves recoverPublicKey', () => secp256k1.recoverPublicKey(nobleSignature, hash, { prehash: false }), ops, rounds),
  ],
  rawRecover,
);
