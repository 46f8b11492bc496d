/**
 * Makes lnmux's invoices: stateless terms in the payment_addr, signed by the virtual node's identity key,
 * one route hint per cluster node (cluster node -> virtual node over its virtual channel). Pure: the
 * clock and the randomness come in as arguments.
 *
 * Two kinds (docs/library.md, "Invoices"): a stateless invoice, whose preimage lnmux derives from its
 * payment_addr; and a hold invoice (LND's AddHoldInvoice), whose payment hash the application gives and
 * whose preimage only the application knows: its payment_addr is 32 random bytes and its terms live in
 * the store, not in the payment_addr.
 */
import {
  createStatelessInvoice,
  encodeInvoice,
  type Keyring,
  type Network,
  type RandomBytes,
  type RouteHintHop,
} from '../protocol/index.js';
import { randomBytes as nodeRandomBytes } from 'node:crypto';

/** What the application asks for. */
export interface InvoiceRequest {
  /**
   * Amount, msat. Absent: an amountless invoice, the payer chooses the amount (BOLT 11 without amount);
   * the set completes when its parts reach the payer's total_msat.
   */
  readonly amountMsat?: bigint;
  /** Amountless invoices only: the least the payer may pay, msat; absent: any amount. */
  readonly minAmountMsat?: bigint;
  /**
   * A hold invoice: the 32-byte payment hash of a preimage only the application knows (LND's
   * AddHoldInvoice: swaps, escrow). lnmux holds a complete set until the application settles it with
   * the preimage or cancels the invoice. Absent: lnmux derives the preimage itself.
   */
  readonly paymentHash?: Uint8Array;
  /**
   * BOLT 11 `m`: payment_metadata the payer echoes in the final hop payload (BOLT 4 TLV 16), handed to
   * the application with the set; at most 639 bytes.
   */
  readonly metadata?: Uint8Array;
  /** Exactly one of description (UTF-8, at most 639 bytes) and descriptionHash (32 bytes). */
  readonly description?: string;
  readonly descriptionHash?: Uint8Array;
  /** Seconds until the invoice expires; the configured default when absent. */
  readonly expirySeconds?: number;
}

export interface CreatedInvoice {
  readonly paymentRequest: string;
  readonly paymentHash: Uint8Array;
  readonly paymentAddr: Uint8Array;
  /**
   * The 32-byte preimage of `paymentHash`, derived from `paymentAddr` with the identity key
   * (protocol/stateless-invoice.ts). A secret until the invoice is paid: whoever holds it can prove
   * payment. Given for backends that hand it on (lnmuxd's AddInvoice returns it, docs/api.md); never log it.
   * Absent for a hold invoice: only the application knows it.
   */
  readonly preimage?: Uint8Array;
  /** msat; absent for an amountless invoice. */
  readonly amountMsat?: bigint;
  /** Amountless invoices: the least the payer may pay, msat. */
  readonly minAmountMsat?: bigint;
  /** Whether this is a hold invoice (its payment hash came from the application). */
  readonly hold: boolean;
  readonly metadata?: Uint8Array;
  readonly description?: string;
  readonly descriptionHash?: Uint8Array;
  /** unix seconds */
  readonly createdAt: number;
  /** unix seconds */
  readonly expiresAt: number;
}

export interface InvoiceContext {
  readonly keyring: Keyring;
  readonly network: 'mainnet' | 'testnet' | 'signet' | 'regtest' | 'simnet';
  /** Cluster nodes in the order their hints are written. */
  readonly nodes: readonly { readonly pubkey: Uint8Array; readonly virtualChannelId: bigint }[];
  readonly feeBaseMsat: number;
  readonly feeProportionalMillionths: number;
  /** cltv_expiry_delta of the virtual hop, blocks. */
  readonly cltvExpiryDelta: number;
  /** The invoice's `c`, blocks. */
  readonly minFinalCltvExpiryDelta: number;
  readonly defaultExpirySeconds: number;
}

/** A bad invoice request; `field` names the offending field. */
export class InvoiceRequestError extends RangeError {
  override readonly name = 'InvoiceRequestError';
  constructor(
    readonly field: keyof InvoiceRequest,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const BECH32_PREFIX: { readonly [K in InvoiceContext['network']]: Network } = {
  mainnet: 'bc',
  testnet: 'tb',
  signet: 'tbs',
  regtest: 'bcrt',
  simnet: 'sb',
};

/** Largest amount an invoice may ask for, msat: 21 million BTC. */
export const MAX_INVOICE_AMOUNT_MSAT = 21_000_000n * 100_000_000n * 1000n;
/** Longest expiry accepted, seconds (one year). */
export const MAX_EXPIRY_SECONDS = 365 * 24 * 3600;

/**
 * Builds and signs a BOLT 11 invoice. Throws InvoiceRequestError for a bad request.
 * Features: var_onion_optin and payment_secret required, basic_mpp optional (BOLT 9, BOLT 11).
 */
export function makeInvoice(
  request: InvoiceRequest,
  ctx: InvoiceContext,
  nowSeconds: number,
  random?: RandomBytes,
): CreatedInvoice {
  const { amountMsat, minAmountMsat, paymentHash, metadata, description, descriptionHash } = request;
  for (const field of ['amountMsat', 'minAmountMsat'] as const) {
    const value = request[field];
    if (value !== undefined && (typeof value !== 'bigint' || value <= 0n || value > MAX_INVOICE_AMOUNT_MSAT)) {
      throw new InvoiceRequestError(field, `expected a bigint from 1 to ${MAX_INVOICE_AMOUNT_MSAT} msat, got ${String(value)}`);
    }
  }
  if (amountMsat !== undefined && minAmountMsat !== undefined) {
    throw new InvoiceRequestError('minAmountMsat', 'only for an amountless invoice (without amountMsat)');
  }
  if (paymentHash !== undefined && (!(paymentHash instanceof Uint8Array) || paymentHash.length !== 32)) {
    throw new InvoiceRequestError('paymentHash', `expected 32 bytes, got ${paymentHash instanceof Uint8Array ? paymentHash.length : typeof paymentHash}`);
  }
  if (metadata !== undefined && (!(metadata instanceof Uint8Array) || metadata.length === 0 || metadata.length > 639)) {
    throw new InvoiceRequestError('metadata', 'expected 1 to 639 bytes (a BOLT 11 field holds at most 639)');
  }
  if ((description === undefined) === (descriptionHash === undefined)) {
    throw new InvoiceRequestError('description', 'give exactly one of description and descriptionHash');
  }
  if (description !== undefined && Buffer.byteLength(description, 'utf8') > 639) {
    throw new InvoiceRequestError('description', 'longer than the 639 bytes a BOLT 11 field can hold');
  }
  if (descriptionHash !== undefined && descriptionHash.length !== 32) {
    throw new InvoiceRequestError('descriptionHash', `expected 32 bytes, got ${descriptionHash.length}`);
  }
  const expirySeconds = request.expirySeconds ?? ctx.defaultExpirySeconds;
  if (!Number.isInteger(expirySeconds) || expirySeconds < 1 || expirySeconds > MAX_EXPIRY_SECONDS) {
    throw new InvoiceRequestError('expirySeconds', `expected an integer from 1 to ${MAX_EXPIRY_SECONDS}, got ${expirySeconds}`);
  }

  const createdAt = Math.floor(nowSeconds);
  const expiresAt = createdAt + expirySeconds;
  const terms = amountMsat !== undefined ? { amountMsat, expiresAt } : { minAmountMsat, expiresAt };
  // A hold invoice's payment_addr proves nothing by itself: it is only the payer's secret (BOLT 11 `s`),
  // compared with the stored one when an HTLC arrives (inspect.ts).
  const keys =
    paymentHash === undefined
      ? createStatelessInvoice(ctx.keyring, terms, random)
      : { paymentHash, paymentAddr: (random ?? nodeRandomBytes)(32), preimage: undefined };
  const routeHints: RouteHintHop[][] = ctx.nodes.map((node) => [
    {
      pubkey: node.pubkey,
      shortChannelId: node.virtualChannelId,
      feeBaseMsat: ctx.feeBaseMsat,
      feeProportionalMillionths: ctx.feeProportionalMillionths,
      cltvExpiryDelta: ctx.cltvExpiryDelta,
    },
  ]);
  const paymentRequest = encodeInvoice(
    {
      network: BECH32_PREFIX[ctx.network],
      ...(amountMsat !== undefined ? { amountMsat } : {}),
      timestamp: createdAt,
      paymentHash: keys.paymentHash,
      paymentSecret: keys.paymentAddr,
      ...(description !== undefined ? { description } : { descriptionHash }),
      expirySeconds,
      minFinalCltvExpiryDelta: ctx.minFinalCltvExpiryDelta,
      features: {
        varOnionOptin: 'required',
        paymentSecret: 'required',
        basicMpp: 'optional',
        // The payer must echo `m` (BOLT 11's own example sets bit 48, required, with it).
        ...(metadata !== undefined ? { paymentMetadata: 'required' as const } : {}),
      },
      routeHints,
      ...(metadata !== undefined ? { metadata } : {}),
    },
    ctx.keyring.identityPrivateKey(),
  );
  return {
    paymentRequest,
    paymentHash: keys.paymentHash,
    paymentAddr: keys.paymentAddr,
    ...(keys.preimage !== undefined ? { preimage: keys.preimage } : {}),
    ...(amountMsat !== undefined ? { amountMsat } : {}),
    ...(minAmountMsat !== undefined ? { minAmountMsat } : {}),
    hold: paymentHash !== undefined,
    ...(metadata !== undefined ? { metadata } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(descriptionHash !== undefined ? { descriptionHash } : {}),
    createdAt,
    expiresAt,
  };
}
