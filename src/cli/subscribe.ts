/**
 * `lnmux subscribe [--from-index N]`: the daemon's durable invoice stream, one JSON object per line, until
 * ctrl-c (exit 0) or the daemon stops. Store the last `index` printed and pass it as --from-index to miss
 * nothing (docs/api.md, "The durable invoice stream").
 */
import { InvalidArgumentError, type Command } from 'commander';
import { apiFlags, printable, withClient, type ApiFlags } from './api-client.js';

function index(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected an index (0 or more), got ${JSON.stringify(value)}`);
  return BigInt(value);
}

export function subscribeCommand(cli: Command, configPath: () => string): void {
  apiFlags(
    cli
      .command('subscribe')
      .description('print every invoice change after --from-index, then each new one, as JSON lines')
      .option('--from-index <n>', 'the index of the last event already seen (default 0: from the first)', index),
  ).action(async (flags: ApiFlags & { fromIndex?: bigint }) => {
    await withClient(flags, configPath(), async (client) => {
      const subscription = client.subscribeInvoices(flags.fromIndex ?? 0n);
      const stop = () => subscription.cancel();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        for await (const event of subscription) process.stdout.write(`${JSON.stringify(printable(event))}\n`);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
  });
}
