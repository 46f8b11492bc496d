/**
 * `lnmux status`: the running daemon as its API tells it: version, role, best height, each node's state
 * with its reason, and the sets held now (GetInfo and ListAcceptedSets), as JSON.
 */
import type { Command } from 'commander';
import { apiFlags, printJson, withClient, type ApiFlags } from './api-client.js';

export function statusCommand(cli: Command, configPath: () => string): void {
  apiFlags(cli.command('status').description("the running daemon: role, height, nodes and held sets (through its API)")).action(async (flags: ApiFlags) => {
    const status = await withClient(flags, configPath(), async (client) => {
      const [info, sets] = await Promise.all([client.getInfo(), client.listAcceptedSets()]);
      return { ...info, heldSets: sets };
    });
    printJson(status);
  });
}
