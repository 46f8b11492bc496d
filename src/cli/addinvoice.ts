/**
 * `lnmux addinvoice --amt <sat> --desc <text>`: creates and records an invoice, prints it as JSON. Also
 * amountless (`--amountless`, optional `--min-amt-msat`), hold invoices (`--hash`, LND's addholdinvoice)
 * and invoice metadata (`--metadata`).
 */
import type { Command } from 'commander';
import pino from 'pino';
import { bytesToHex } from '../protocol/index.js';
import { loadConfigFile } from '../mux/config.js';
import { InvoiceRequestError } from '../mux/invoice-factory.js';
import { Mux } from '../mux/mux.js';
import { UsageError } from './flags.js';
import { FLAG_OF, invoiceOptions, invoiceRequestOf, type InvoiceFlags } from './invoice-flags.js';

export function addInvoiceCommand(cli: Command, configPath: () => string): void {
  invoiceOptions(cli.command('addinvoice').description('create an invoice payable through every node of the cluster'), {
    hash: 'a hold invoice: the payment hash of a preimage only you know (settle with it, or cancel)',
    expiry: 'seconds until the invoice expires (default from the config)',
  }).action(async (flags: InvoiceFlags) => {
    const request = invoiceRequestOf(flags, 'addinvoice');
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
