/**
 * Makes lnmux's invoices: stateless terms in the payment_addr, signed by the virtual node's identity key,
 * one route hint per cluster node (cluster node -> virtual node over its virtual channel). Pure: the
 * clock and the randomness come in as arguments.
 */
import { createStatelessInvoice, encodeInvoice, type Keyring, type Network, type RandomBytes, type RouteHintHop } from '../protocol/index.js';

/** What the application asks for. */
export interface InvoiceRequest {
  /** Amount, msat (lnmux invoices always name one). */
  readonly amountMsat: bigint;
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
   */
  readonly preimage: Uint8Array;
  readonly amountMsat: bigint;
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
  const { amountMsat, description, descriptionHash } = request;
  if (typeof amountMsat !== 'bigint' || amountMsat <= 0n || amountMsat > MAX_INVOICE_AMOUNT_MSAT) {
    throw new InvoiceRequestError('amountMsat', `expected a bigint from 1 to ${MAX_INVOICE_AMOUNT_MSAT} msat, got ${String(amountMsat)}`);
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
  const stateless = createStatelessInvoice(ctx.keyring, { amountMsat, expiresAt }, random);
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
      amountMsat,
      timestamp: createdAt,
      paymentHash: stateless.paymentHash,
      paymentSecret: stateless.paymentAddr,
      ...(description !== undefined ? { description } : { descriptionHash }),
      expirySeconds,
      minFinalCltvExpiryDelta: ctx.minFinalCltvExpiryDelta,
      features: { varOnionOptin: 'required', paymentSecret: 'required', basicMpp: 'optional' },
      routeHints,
    },
    ctx.keyring.identityPrivateKey(),
  );
  return {
    paymentRequest,
    paymentHash: stateless.paymentHash,
    paymentAddr: stateless.paymentAddr,
    preimage: stateless.preimage,
    amountMsat,
    ...(description !== undefined ? { description } : {}),
    ...(descriptionHash !== undefined ? { descriptionHash } : {}),
    createdAt,
    expiresAt,
  };
}
