/**
 * The simulated side of bench/failover.bench.ts, in a process of its own (forked with IPC): a simulated
 * LND cluster (`--requireinterceptor`, as lnmux requires) and its payer. Times are wall-clock ms
 * (performance.timeOrigin + performance.now()), comparable across the bench's processes.
 *
 * After a kill, it reports when every node has an interceptor registered again (the interceptable
 * switch's setInterceptor, i.e. LND accepted the new stream), and when a payment to the virtual node
 * first settles: the payer pays the invoice again and again (every attempt fails at once while no
 * interceptor is registered) until it succeeds.
 */
import { startCluster, type SimCluster } from '../../src/sim/cluster.js';
import { InterceptableSwitch } from '../../src/sim/interceptable-switch.js';
import { nodeFacts, type NodeFacts } from './node-facts.js';

export type FailoverClusterCommand =
  | { readonly kind: 'start'; readonly nodes: number }
  /** Wait until every node has an interceptor registered after `since`; pay `paymentRequest` until it settles. */
  | { readonly kind: 'failover'; readonly since: number; readonly paymentRequest: string; readonly timeoutMs: number }
  | { readonly kind: 'stop' };

export type FailoverClusterReply =
  | { readonly kind: 'started'; readonly nodes: readonly NodeFacts[] }
  | { readonly kind: 'failedOver'; readonly registeredAt: number; readonly settledAt: number; readonly attempts: number }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'stopped' };

export const wallClock = (): number => performance.timeOrigin + performance.now();

/** When each switch last had an interceptor registered. */
const registeredAt = new Map<InterceptableSwitch, number>();

function instrumentSwitch(): void {
  const proto = InterceptableSwitch.prototype;
  const setInterceptor = proto.setInterceptor;
  proto.setInterceptor = function (this: InterceptableSwitch, interceptor) {
    if (interceptor !== undefined) registeredAt.set(this, wallClock());
    return setInterceptor.call(this, interceptor);
  };
}

let cluster: SimCluster | undefined;

function reply(message: FailoverClusterReply): void {
  process.send!(message);
}

async function failover(c: SimCluster, since: number, paymentRequest: string, timeoutMs: number): Promise<FailoverClusterReply> {
  const deadline = wallClock() + timeoutMs;
  const registered = new Promise<number>((resolve, reject) => {
    const check = (): void => {
      const times = [...registeredAt.entries()].filter(([sw, at]) => at > since && sw.hasInterceptor).map(([, at]) => at);
      if (times.length >= c.nodes.length) return resolve(Math.max(...times));
      if (wallClock() > deadline) return reject(new Error(`interceptors not registered on every node within ${timeoutMs} ms`));
      setTimeout(check, 1);
    };
    check();
  });
  let attempts = 0;
  for (;;) {
    attempts++;
    const result = await c.payer.pay(paymentRequest);
    if (result.status === 'succeeded') break;
    if (wallClock() > deadline) throw new Error(`payment not settled within ${timeoutMs} ms (${attempts} attempts; last: ${result.reason})`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const settledAt = wallClock();
  return { kind: 'failedOver', registeredAt: await registered, settledAt, attempts };
}

async function handle(command: FailoverClusterCommand): Promise<void> {
  switch (command.kind) {
    case 'start':
      instrumentSwitch();
      cluster = await startCluster({ nodes: command.nodes });
      reply({
        kind: 'started',
        nodes: cluster.nodeInfos().map(nodeFacts),
      });
      return;
    case 'failover':
      reply(await failover(cluster!, command.since, command.paymentRequest, command.timeoutMs));
      return;
    case 'stop':
      await cluster?.stop();
      reply({ kind: 'stopped' });
      process.disconnect?.();
      return;
  }
}

process.on('message', (command: FailoverClusterCommand) => {
  handle(command).catch((error: unknown) => reply({ kind: 'error', message: error instanceof Error ? error.message : String(error) }));
});
// The parent went away (ended, or was killed): so does the cluster.
process.on('disconnect', () => {
  void cluster?.stop().finally(() => process.exit(0));
});
