/**
 * Issue 14 §4 and §5 acceptance: an operator's first hour on the simulator. `lnmux sim`'s runner
 * (here in the test process, with a control endpoint) writes a ready multiplexer.yml; `lnmux addinvoice`
 * and `lnmux run` use it as written; `lnmux sim pay --via node-0` pays; `run`'s console logs show
 * the seed's expected output lines in its format
 * (`2022-04-19T08:39:09.333+0200	INFO	Htlc received	{"hash": ...}`). And the library embedded
 * without a logger writes nothing to the host's stdout while a payment settles.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { waitUntil } from '../support/wait.js';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const QUIET = join(import.meta.dirname, 'fixtures/quiet-library.ts');
const TSX = import.meta.resolve('tsx');
const SEED_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}\t(DEBUG|INFO|WARN|ERROR)\t[^\t]+(\t\{.*\})?$/;

interface Child {
  output: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

function start(args: readonly string[], cwd: string, env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, ['--import', TSX, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { output: () => output, stdout: () => stdout, exited, kill: (signal) => void (child.exitCode === null && child.kill(signal)) };
}

describe('an operator\'s first hour on the simulator', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function simulator(): Promise<{ sim: RunningSimulator; dir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'lnmux-sim-'));
    const sim = await runSimulator({ nodes: 2, dir, seed: 'first hour', controlPort: 0, metricsListen: '127.0.0.1:0' });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanup.push(() => sim.stop());
    return { sim, dir };
  }

  it('lnmux run with the written config logs the seed\'s lines in its console format for a payment made with lnmux sim pay', { timeout: 120_000 }, async () => {
    const { sim, dir } = await simulator();
    expect(sim.muxConfigFile).toBe(join(dir, 'multiplexer.yml'));
    for (const step of ['init', 'up']) {
      const migrate = start([BIN, '-c', 'multiplexer.yml', 'migrate', step], dir);
      expect({ code: await migrate.exited, output: migrate.output() }).toMatchObject({ code: 0 });
    }
    const add = start([BIN, '-c', 'multiplexer.yml', 'addinvoice', '--amt', '6', '--desc', 'test'], dir);
    expect({ code: await add.exited, output: add.output() }).toMatchObject({ code: 0 });
    const invoice = JSON.parse(add.stdout()) as { payment_request?: string; paymentRequest?: string };
    const paymentRequest = invoice.payment_request ?? invoice.paymentRequest;
    expect(typeof paymentRequest).toBe('string');

    const run = start([BIN, '-c', 'multiplexer.yml', 'run'], dir);
    cleanup.push(async () => {
      run.kill('SIGKILL');
      await run.exited;
    });
    const acceptedStreams = (): number => run.output().split('\n').filter((l) => l.includes('\tStream open\t') && l.includes('"stream": "interceptor"')).length;
    await waitUntil(() => acceptedStreams() === 2, { what: 'lnmux run intercepting on both nodes', timeoutMs: 60_000 });

    const pay = start([BIN, 'sim', 'pay', paymentRequest!, '--via', 'node-0', '--dir', dir], dir);
    const payCode = await pay.exited;
    if (payCode !== 0) console.error('SIMPAY', pay.output());
    expect(payCode).toBe(0);
    const outcome = JSON.parse(pay.stdout()) as { status: string; parts: { via: string }[] };
    expect(outcome.status).toBe('succeeded');
    expect(outcome.parts.map((p) => p.via)).toEqual([sim.description.nodes[0]!.pubkey]);

    await waitUntil(() => run.output().includes('\tSending settle resolution\t'), { what: 'lnmux run to send the settle', timeoutMs: 30_000 });
    run.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const logLines = run.stdout().split('\n').filter((l) => l !== '');
    for (const line of logLines) expect(line).toMatch(SEED_LINE);
    const hash = /"hash": "([0-9a-f]{64})"/.exec(logLines.find((l) => l.includes('\tHtlc received\t'))!)![1]!;
    const node0 = sim.description.nodes[0]!.pubkey;
    const matches = (level: string, message: RegExp) => (l: string): boolean => l.split('\t')[1] === level && message.test(l.split('\t').slice(2).join('\t'));
    // Start-up, in the order lnmux starts (the registry before the connections, which come up in the background).
    const startup: [string, RegExp][] = [
      ['INFO', /^InvoiceRegistry starting$/],
      ['INFO', new RegExp(`^Successfully connected to LND\\t\\{"node": "${node0}"`)],
      ['INFO', new RegExp(`^Starting htlc interception\\t\\{"node": "${node0}"\\}$`)],
    ];
    for (const [level, message] of startup) expect(logLines.some(matches(level, message)), `${level} ${message.source}`).toBe(true);
    // One HTLC's story, in order.
    const expected: [string, RegExp][] = [
      ['INFO', new RegExp(`^Htlc received\\t\\{"hash": "${hash}", "source": "${node0}", "circuitKey": "\\d+:\\d+@[0-9a-f]{66}", "amountMsat": "6000"`)],
      ['DEBUG', new RegExp(`^Loaded invoice from db\\t\\{"hash": "${hash}"`)],
      ['INFO', new RegExp(`^Htlc accepted\\t\\{"hash": "${hash}", "circuitKey": "\\d+:\\d+@[0-9a-f]{66}", "amountMsat": "6000", "expiry": \\d+, "mppTotalMsat": "6000"`)],
      ['INFO', new RegExp(`^Sending settle resolution\\t\\{"hash": "${hash}", "circuitKey": "\\d+:\\d+@[0-9a-f]{66}", "outcome": "settled"\\}$`)],
    ];
    let from = 0;
    for (const [level, message] of expected) {
      const index = logLines.findIndex((l, i) => i >= from && matches(level, message)(l));
      expect(index, `${level} ${message.source} after line ${from}`).toBeGreaterThanOrEqual(from);
      from = index + 1;
    }
  });

  it('the library without a logger writes nothing to stdout while a payment settles', { timeout: 120_000 }, async () => {
    const { sim, dir } = await simulator();
    const config = {
      network: 'regtest',
      identityKey: 'ab'.repeat(32),
      nodes: sim.description.nodes.map((n) => ({ pubkey: n.pubkey, address: n.address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
      database: { dataDir: join(dir, 'quiet-data') },
    };
    const host = start([QUIET], dir, { LNMUX_QUIET_CONFIG: JSON.stringify({ config }) });
    cleanup.push(async () => {
      host.kill('SIGKILL');
      await host.exited;
    });
    await waitUntil(() => host.output().includes('"event":"invoice"'), { what: 'the host to start lnmux', timeoutMs: 60_000 });
    const paymentRequest = (JSON.parse(host.output().split('\n').find((l) => l.includes('"event":"invoice"'))!) as { paymentRequest: string }).paymentRequest;
    await waitUntil(() => sim.cluster.nodes.every((n) => n.interceptorConnected), { what: 'lnmux intercepting on both nodes', timeoutMs: 30_000 });
    expect((await sim.cluster.payer.pay(paymentRequest)).status).toBe('succeeded');
    expect(await host.exited).toBe(0);
    expect(host.output()).toContain('"event":"stopped"');
    expect(host.stdout()).toBe('');
  });
});
