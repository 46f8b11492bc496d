/** `lnmux addinvoice --amt <sat> --desc <text>`: creates and records an invoice, prints it as JSON. */
import { Option, type Command } from 'commander';
import { bytesToHex } from '../protocol/index.js';
import { loadConfigFile } from '../mux/config.js';
import { Mux } from '../mux/mux.js';
import pino from 'pino';
import { hex32, positiveInteger, UsageError } from './flags.js';
import { InvoiceRequestError } from '../mux/invoice-factory.js';

interface AddInvoiceFlags {
  amt?: bigint;
  amtMsat?: bigint;
  desc?: string;
  descHash?: Uint8Array;
  expiry?: bigint;
}

/** The flag that carries each field of an invoice request. */
const FLAG_OF = {
  amountMsat: '--amt / --amt-msat',
  description: '--desc',
  descriptionHash: '--desc-hash',
  expirySeconds: '--expiry',
} as const;

export function addInvoiceCommand(cli: Command, configPath: () => string): void {
  cli
    .command('addinvoice')
    .description('create an invoice payable through every node of the cluster')
    .addOption(new Option('--amt <sat>', 'amount in satoshis').argParser(positiveInteger).conflicts('amtMsat'))
    .addOption(new Option('--amt-msat <msat>', 'amount in millisatoshis').argParser(positiveInteger))
    .addOption(new Option('--desc <text>', 'description').conflicts('descHash'))
    .addOption(new Option('--desc-hash <hex>', 'SHA256 of a description kept elsewhere').argParser(hex32))
    .addOption(new Option('--expiry <seconds>', 'seconds until the invoice expires (default from the config)').argParser(positiveInteger))
    .action(async (flags: AddInvoiceFlags) => {
      const amountMsat = flags.amtMsat ?? (flags.amt !== undefined ? flags.amt * 1000n : undefined);
      if (amountMsat === undefined) throw new UsageError('addinvoice: give the amount with --amt <sat> or --amt-msat <msat>');
      if (flags.desc === undefined && flags.descHash === undefined) {
        throw new UsageError('addinvoice: give a description with --desc <text> or --desc-hash <hex>');
      }
      const request = {
        amountMsat,
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
          amount_msat: String(invoice.amountMsat),
          expires_at: new Date(invoice.expiresAt * 1000).toISOString(),
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } finally {
        await mux.stop();
      }
    });
}
