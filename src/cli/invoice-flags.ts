/**
 * The flags of an invoice request, shared by `lnmux addinvoice` (the database opened in process) and
 * `lnmux invoice add` (through the daemon's API): the same options, the same usage errors, the same
 * request (the fields of Mux.createInvoice's InvoiceRequest and the client's AddInvoiceRequest).
 */
import { Option, type Command } from 'commander';
import type { AddInvoiceRequest } from '../client/index.js';
import { hex32, hexBytes, positiveInteger, UsageError } from './flags.js';

export interface InvoiceFlags {
  amt?: bigint;
  amtMsat?: bigint;
  amountless?: boolean;
  minAmtMsat?: bigint;
  hash?: Uint8Array;
  metadata?: Uint8Array;
  desc?: string;
  descHash?: Uint8Array;
  expiry?: bigint;
}

/** The flag that carries each field of an invoice request (for errors about a field). */
export const FLAG_OF = {
  amountMsat: '--amt / --amt-msat',
  minAmountMsat: '--min-amt-msat',
  paymentHash: '--hash',
  metadata: '--metadata',
  description: '--desc',
  descriptionHash: '--desc-hash',
  expirySeconds: '--expiry',
} as const;

/**
 * Adds the invoice request's options to `command`. `help`: what differs between the two commands (how a
 * hold invoice is settled, where the default expiry comes from).
 */
export function invoiceOptions(command: Command, help: { readonly hash: string; readonly expiry: string }): Command {
  return command
    .addOption(new Option('--amt <sat>', 'amount in satoshis').argParser(positiveInteger).conflicts('amtMsat'))
    .addOption(new Option('--amt-msat <msat>', 'amount in millisatoshis').argParser(positiveInteger).conflicts('amountless'))
    .addOption(new Option('--amountless', 'the payer chooses the amount (donations, tips, withdrawals)').conflicts('amt'))
    .addOption(new Option('--min-amt-msat <msat>', 'amountless invoices: the least the payer may pay, millisatoshis').argParser(positiveInteger))
    .addOption(new Option('--hash <hex>', help.hash).argParser(hex32))
    .addOption(new Option('--metadata <hex>', "metadata the payer echoes back (BOLT 11 'm'), handed over with the set").argParser(hexBytes))
    .addOption(new Option('--desc <text>', 'description').conflicts('descHash'))
    .addOption(new Option('--desc-hash <hex>', 'SHA256 of a description kept elsewhere').argParser(hex32))
    .addOption(new Option('--expiry <seconds>', help.expiry).argParser(positiveInteger));
}

/**
 * The request the flags give. `command`: its name, for the errors.
 * @throws UsageError without an amount and without --amountless (an amountless invoice takes any
 *   amount: never made by forgetting --amt), for --min-amt-msat without --amountless, and without a
 *   description.
 */
export function invoiceRequestOf(flags: InvoiceFlags, command: string): AddInvoiceRequest {
  const amountMsat = flags.amtMsat ?? (flags.amt !== undefined ? flags.amt * 1000n : undefined);
  if (amountMsat === undefined && flags.amountless !== true) {
    throw new UsageError(`${command}: give the amount with --amt <sat> or --amt-msat <msat>, or --amountless`);
  }
  if (flags.minAmtMsat !== undefined && flags.amountless !== true) throw new UsageError(`${command} --min-amt-msat: only with --amountless`);
  if (flags.desc === undefined && flags.descHash === undefined) {
    throw new UsageError(`${command}: give a description with --desc <text> or --desc-hash <hex>`);
  }
  return {
    ...(amountMsat !== undefined ? { amountMsat } : {}),
    ...(flags.minAmtMsat !== undefined ? { minAmountMsat: flags.minAmtMsat } : {}),
    ...(flags.hash !== undefined ? { paymentHash: flags.hash } : {}),
    ...(flags.metadata !== undefined ? { metadata: flags.metadata } : {}),
    ...(flags.desc !== undefined ? { description: flags.desc } : { descriptionHash: flags.descHash! }),
    ...(flags.expiry !== undefined ? { expirySeconds: Number(flags.expiry) } : {}),
  };
}
