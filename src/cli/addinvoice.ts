/** `lnmux addinvoice --amt <sat> --desc <text>`: creates and records an invoice, prints it as JSON. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { bytesToHex } from '../protocol/bytes.js';
import { loadConfigFile } from '../mux/config.js';
import { Mux } from '../mux/mux.js';
import pino from 'pino';
import { hex32, positiveInteger } from './flags.js';

interface AddInvoiceFlags {
  amt?: bigint;
  amtMsat?: bigint;
  desc?: string;
  descHash?: Uint8Array;
  expiry?: bigint;
}

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
      if (amountMsat === undefined) throw new InvalidArgumentError('give the amount with --amt <sat> or --amt-msat <msat>');
      if (flags.desc === undefined && flags.descHash === undefined) {
        throw new InvalidArgumentError('give a description with --desc <text> or --desc-hash <hex>');
      }
      const config = loadConfigFile(configPath());
      const mux = await Mux.open(config, { logger: pino({ level: 'warn' }, pino.destination(2)) });
      try {
        const invoice = await mux.createInvoice({
          amountMsat,
          ...(flags.desc !== undefined ? { description: flags.desc } : { descriptionHash: flags.descHash! }),
          ...(flags.expiry !== undefined ? { expirySeconds: Number(flags.expiry) } : {}),
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
