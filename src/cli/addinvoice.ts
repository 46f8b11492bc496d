/**
 * `lnmux addinvoice --amt <sat> --desc <text>`: creates and records an invoice, prints it as JSON. Also
 * amountless (`--amountless`, optional `--min-amt-msat`), hold invoices (`--hash`, LND's addholdinvoice)
 * and invoice metadata (`--metadata`).
 */
import { Option, type Command } from 'commander';
import { bytesToHex } from '../protocol/index.js';
import { loadConfigFile } from '../mux/config.js';
import { Mux } from '../mux/mux.js';
import pino from 'pino';
import { hex32, hexBytes, positiveInteger, UsageError } from './flags.js';
import { InvoiceRequestError } from '../mux/invoice-factory.js';

interface AddInvoiceFlags {
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

/** The flag that carries each field of an invoice request. */
const FLAG_OF = {
  amountMsat: '--amt / --amt-msat',
  minAmountMsat: '--min-amt-msat',
  paymentHash: '--hash',
  metadata: '--metadata',
  description: '--desc',
  descriptionHash: '--desc-hash',
  expirySeconds: '--expiry',
} as const;

export function addInvoiceCommand(cli: Command, configPath: () => string): void {
  cli
    .command('addinvoice')
    .description('create an invoice payable through every node of the cluster')
    .addOption(new Option('--amt <sat>', 'amount in satoshis').argParser(positiveInteger).conflicts('amtMsat'))
    .addOption(new Option('--amt-msat <msat>', 'amount in millisatoshis').argParser(positiveInteger).conflicts('amountless'))
    .addOption(new Option('--amountless', 'the payer chooses the amount (donations, tips, withdrawals)').conflicts('amt'))
    .addOption(new Option('--min-amt-msat <msat>', 'amountless invoices: the least the payer may pay, millisatoshis').argParser(positiveInteger))
    .addOption(
      new Option('--hash <hex>', 'a hold invoice: the payment hash of a preimage only you know (settle with it, or cancel)').argParser(hex32),
    )
    .addOption(new Option('--metadata <hex>', "metadata the payer echoes back (BOLT 11 'm'), handed over with the set").argParser(hexBytes))
    .addOption(new Option('--desc <text>', 'description').conflicts('descHash'))
    .addOption(new Option('--desc-hash <hex>', 'SHA256 of a description kept elsewhere').argParser(hex32))
    .addOption(new Option('--expiry <seconds>', 'seconds until the invoice expires (default from the config)').argParser(positiveInteger))
    .action(async (flags: AddInvoiceFlags) => {
      const amountMsat = flags.amtMsat ?? (flags.amt !== undefined ? flags.amt * 1000n : undefined);
      // An amountless invoice takes any amount: never made by forgetting --amt.
      if (amountMsat === undefined && flags.amountless !== true) {
        throw new UsageError('addinvoice: give the amount with --amt <sat> or --amt-msat <msat>, or --amountless');
      }
      if (flags.minAmtMsat !== undefined && flags.amountless !== true) {
        throw new UsageError('addinvoice --min-amt-msat: only with --amountless');
      }
      if (flags.desc === undefined && flags.descHash === undefined) {
        throw new UsageError('addinvoice: give a description with --desc <text> or --desc-hash <hex>');
      }
      const request = {
        ...(amountMsat !== undefined ? { amountMsat } : {}),
        ...(flags.minAmtMsat !== undefined ? { minAmountMsat: flags.minAmtMsat } : {}),
        ...(flags.hash !== undefined ? { paymentHash: flags.hash } : {}),
        ...(flags.metadata !== undefined ? { metadata: flags.metadata } : {}),
        ...(flags.desc !== undefined ? { description: flags.desc } : { descriptionHash: flags.descHash! }),
        ...(flags.expiry !== undefined ? { expirySeconds: Number(flags.expiry) } : {}),
      };
      const config = loadConfigFile(configPath());
      const mux = await Mux.open(config, { logger: pino({ level: 'warn' }, pino.destination(2)) });
      try {
        const invoice = await mux.createInvoice(request).catch((error: unknown) => {
          if (!(error instanceof InvoiceRequestError)) throw error;
          throw new UsageError(`addinvoice ${FLAG_OF[error.field]}: ${error.message.replace(`${error.field}: `, '')}`);
        });
        const out = {
          payment_request: invoice.paymentRequest,
          payment_hash: bytesToHex(invoice.paymentHash),
          kind: invoice.hold ? 'hold' : 'stateless',
          ...(invoice.amountMsat !== undefined ? { amount_msat: String(invoice.amountMsat) } : { amount_msat: null }),
          ...(invoice.minAmountMsat !== undefined ? { min_amount_msat: String(invoice.minAmountMsat) } : {}),
          expires_at: new Date(invoice.expiresAt * 1000).toISOString(),
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } finally {
        await mux.stop();
      }
    });
}
