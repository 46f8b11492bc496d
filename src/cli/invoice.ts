/**
 * `lnmux invoice add|lookup|list|cancel`: invoices through a running daemon's API (api-client.ts), like
 * lncli's addinvoice / lookupinvoice / listinvoices / cancelinvoice. Unlike `lnmux addinvoice`, which
 * opens the database itself, these need `lnmux run` with an `api` section.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { InvoiceState } from '../client/index.js';
import { apiFlags, printJson, withClient, type ApiFlags } from './api-client.js';
import { hex32, positiveInteger, UsageError } from './flags.js';
import { invoiceOptions, invoiceRequestOf, type InvoiceFlags } from './invoice-flags.js';

type AddFlags = ApiFlags & InvoiceFlags;

interface ListFlags extends ApiFlags {
  state?: InvoiceState[];
  from?: Date;
  before?: Date;
  limit?: bigint;
  cursor?: bigint;
  reverse?: boolean;
}

const STATES: readonly InvoiceState[] = ['open', 'cancelled', 'settleCommitted', 'settled', 'failed'];

function state(value: string, previous: InvoiceState[] = []): InvoiceState[] {
  if (!(STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${STATES.join(', ')}, got ${JSON.stringify(value)}`);
  return [...previous, value as InvoiceState];
}

/** A time: unix seconds or an ISO 8601 date. */
function time(value: string): Date {
  const date = /^\d+$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`expected unix seconds or an ISO 8601 date, got ${JSON.stringify(value)}`);
  return date;
}

/** A hash argument: 32 bytes as hex (commander names the argument on error). */
function hashArgument(name: string, value: string): Uint8Array {
  try {
    return hex32(value);
  } catch (error) {
    throw new UsageError(`${name}: ${(error as Error).message}`);
  }
}

export function invoiceCommand(cli: Command, configPath: () => string): void {
  const invoice = cli.command('invoice').description("invoices through the running daemon's API (docs/api.md)");

  apiFlags(
    invoiceOptions(invoice.command('add').description('create an invoice (a hold invoice with --hash); prints it as JSON'), {
      hash: 'a hold invoice: the payment hash of a preimage only you know (settle with `lnmux set settle --preimage`)',
      expiry: "seconds until the invoice expires (default: the daemon's)",
    }),
  ).action(async (flags: AddFlags) => {
    const request = invoiceRequestOf(flags, 'invoice add');
    printJson(await withClient(flags, configPath(), (client) => client.addInvoice(request)));
  });

  apiFlags(invoice.command('lookup').description('an invoice by its payment hash, as JSON').argument('<payment_hash>', '32 bytes as hex')).action(
    async (hash: string, flags: ApiFlags) => {
      const paymentHash = hashArgument('payment_hash', hash);
      printJson(await withClient(flags, configPath(), (client) => client.lookupInvoice(paymentHash)));
    },
  );

  apiFlags(
    invoice
      .command('list')
      .description('invoices in creation order, one page (JSON: invoices, next_cursor)')
      .option('--state <state>', `only this state (repeat for several): ${STATES.join(', ')}`, state)
      .option('--from <time>', 'created at or after (unix seconds or ISO 8601)', time)
      .option('--before <time>', 'created before (unix seconds or ISO 8601)', time)
      .option('--limit <n>', 'page size, 1 to 1000 (default 100)', positiveInteger)
      .option('--cursor <n>', "the previous page's next_cursor", positiveInteger)
      .option('--reverse', 'newest first'),
  ).action(async (flags: ListFlags) => {
    const page = await withClient(flags, configPath(), (client) =>
      client.listInvoices({
        ...(flags.state !== undefined ? { states: flags.state } : {}),
        ...(flags.from !== undefined ? { createdFrom: flags.from } : {}),
        ...(flags.before !== undefined ? { createdBefore: flags.before } : {}),
        ...(flags.limit !== undefined ? { limit: Number(flags.limit) } : {}),
        ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
        ...(flags.reverse === true ? { reverse: true } : {}),
      }),
    );
    printJson(page);
  });

  apiFlags(invoice.command('cancel').description('cancel an invoice for good (a set of it held now fails)').argument('<payment_hash>', '32 bytes as hex')).action(
    async (hash: string, flags: ApiFlags) => {
      const paymentHash = hashArgument('payment_hash', hash);
      await withClient(flags, configPath(), (client) => client.cancelInvoice(paymentHash));
      printJson({ cancelled: paymentHash });
    },
  );
}
