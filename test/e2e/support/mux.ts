/**
 * lnmux pointed at a simulated cluster, as the demo (src/demo/scenario.ts) wires it: one node entry per
 * cluster node (address, TLS certificate, macaroon), a random identity key (one per file unless a test
 * names its own), and a store the test owns
 * (shared, or wrapped to misbehave).
 */
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { Mux, type MuxOptions } from '../../../src/mux/mux.js';
import type { MuxConfigInput } from '../../../src/mux/config.js';
import { bytesToHex } from '../../../src/protocol/bytes.js';
import type { SimCluster } from '../../../src/sim/cluster.js';
import type { Store } from '../../../src/store/types.js';
import { waitUntil } from '../../support/wait.js';

/** Overrides of the config sections the tests vary. */
export interface MuxSettings {
  readonly identityKey?: string;
  readonly settlement?: NonNullable<MuxConfigInput['settlement']>;
  readonly routing?: NonNullable<MuxConfigInput['routing']>;
  readonly invoice?: NonNullable<MuxConfigInput['invoice']>;
}

/** A fresh identity key, hex. */
export function newIdentityKey(): string {
  return bytesToHex(randomBytes(32));
}

/**
 * The identity key of an lnmux whose settings name none: one per test file (each file has its own
 * databases), because a database is bound to the first key that runs it (docs/architecture.md, invariant 8).
 */
const FILE_IDENTITY_KEY = newIdentityKey();

/** The configuration of an lnmux in front of every node of `cluster`. */
export function muxConfig(cluster: SimCluster, settings: MuxSettings = {}): MuxConfigInput {
  return {
    network: 'regtest',
    identityKey: settings.identityKey ?? FILE_IDENTITY_KEY,
    nodes: cluster.nodeInfos().map((n) => ({ pubkey: n.pubkey, address: n.address, tlsCertPath: n.certPath, macaroonPath: n.macaroonPath })),
    ...(settings.settlement !== undefined ? { settlement: settings.settlement } : {}),
    ...(settings.routing !== undefined ? { routing: settings.routing } : {}),
    ...(settings.invoice !== undefined ? { invoice: settings.invoice } : {}),
    logging: { level: 'error' },
  };
}

/** lnmux's logs: silent, or on stderr with LNMUX_E2E_LOG=info (debugging a failing test). */
export function testLogger(name = 'lnmux'): Logger {
  const level = process.env.LNMUX_E2E_LOG;
  return level ? pino({ level, name }, pino.destination(2)) : pino({ level: 'silent' });
}

/**
 * `store` seen through `overrides`: each overriding method replaces the store's, every other call goes
 * to the store itself (its methods keep their `this`).
 */
export function wrapStore(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, property, _receiver) {
      if (Object.hasOwn(overrides, property)) return (overrides as Record<PropertyKey, unknown>)[property];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `store` for a Mux that must not close it (Mux.stop closes its store; the test closes this one). */
export function sharedStore(store: Store, overrides: Partial<Store> = {}): Store {
  return wrapStore(store, { close: async () => {}, ...overrides });
}

/** The online nodes of the cluster all have an interceptor (lnmux) connected. */
export function intercepting(cluster: SimCluster): boolean {
  return cluster.nodes.every((n) => !n.online || n.interceptorConnected);
}

/** No online node has an interceptor connected. */
export function notIntercepting(cluster: SimCluster): boolean {
  return cluster.nodes.every((n) => !n.interceptorConnected);
}

/**
 * Opens and starts an lnmux on `store` (not closed by the Mux's stop) and waits until it intercepts on
 * every online node. Stop it with {@link stopMux}.
 */
export async function startMux(
  cluster: SimCluster,
  store: Store,
  settings: MuxSettings = {},
  options: Omit<MuxOptions, 'store'> = {},
): Promise<Mux> {
  const mux = await Mux.open(muxConfig(cluster, settings), {
    logger: testLogger(),
    gateway: { backoff: { initialMs: 50, maxMs: 250 } },
    ...options,
    store: sharedStore(store),
  });
  await mux.start();
  await waitUntil(() => intercepting(cluster), { what: 'lnmux to intercept on every node' });
  return mux;
}

/** Stops `mux` and waits until the nodes have seen its interceptor streams end (the slot is free again). */
export async function stopMux(cluster: SimCluster, mux: Mux): Promise<void> {
  await mux.stop();
  await waitUntil(() => notIntercepting(cluster), { what: 'the nodes to see lnmux go' });
}
