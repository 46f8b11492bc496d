#!/usr/bin/env node
/** The `lnmux` command line. Commands arrive with the multiplexer (issue 5). */
const [command] = process.argv.slice(2);
if (command === 'demo') {
  process.stdout.write('lnmux demo: not built yet; it arrives with the multiplexer (issue 5).\n');
  process.exit(0);
}
process.stderr.write(`lnmux: unknown command ${JSON.stringify(command ?? '')}; nothing is built yet but the protocol core\n`);
process.exit(2);
