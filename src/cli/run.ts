/** `lnmux run`: intercepts on every node until SIGINT / SIGTERM. */
import type { Command } from 'commander';
import { loadConfigFile } from '../mux/config.js';
import { Mux } from '../mux/mux.js';

export function runCommand(cli: Command, configPath: () => string): void {
  cli
    .command('run')
    .description('run the multiplexer: intercept HTLCs on every node and settle invoices')
    .action(async () => {
      const mux = await Mux.open(loadConfigFile(configPath()));
      await mux.start();
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await mux.stop();
    });
}
