/**
 * `lnmux set list|settle|cancel`: the sets a running daemon holds (hold mode, hold invoices), through its
 * API (api-client.ts). `settle` needs `--preimage` for a hold invoice's set.
 */
import { Option, type Command } from 'commander';
import { apiFlags, printJson, withClient, type ApiFlags } from './api-client.js';
import { hex32, UsageError } from './flags.js';

function setIdArgument(value: string): Uint8Array {
  try {
    return hex32(value);
  } catch (error) {
    throw new UsageError(`set_id: ${(error as Error).message}`);
  }
}

export function setCommand(cli: Command, configPath: () => string): void {
  const set = cli.command('set').description("the sets held by the running daemon, waiting to be settled or cancelled (docs/api.md)");

  apiFlags(set.command('list').description('the sets held now, as JSON')).action(async (flags: ApiFlags) => {
    printJson({ sets: await withClient(flags, configPath(), (client) => client.listAcceptedSets()) });
  });

  apiFlags(
    set
      .command('settle')
      .description('settle a held set; returns once the decision is committed')
      .argument('<set_id>', '32 bytes as hex (from `lnmux set list` or the ACCEPTED event)')
      .addOption(new Option('--preimage <hex>', "a hold invoice's set: the preimage of its payment hash").argParser(hex32)),
  ).action(async (id: string, flags: ApiFlags & { preimage?: Uint8Array }) => {
    const setId = setIdArgument(id);
    await withClient(flags, configPath(), (client) => client.settleSet(setId, flags.preimage));
    printJson({ settled: setId });
  });

  apiFlags(set.command('cancel').description('refuse a held set: its invoice is cancelled and the payment fails').argument('<set_id>', '32 bytes as hex')).action(
    async (id: string, flags: ApiFlags) => {
      const setId = setIdArgument(id);
      await withClient(flags, configPath(), (client) => client.cancelSet(setId));
      printJson({ cancelled: setId });
    },
  );
}
