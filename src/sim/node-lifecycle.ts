/**
 * A simulated node's life: its folder (TLS certificate, macaroon root key, admin.macaroon and
 * readonly.macaroon, kept across restarts as LND keeps them), and each run: start the gRPC server on the node's port, replay the
 * HTLCs LND replays after a restart, and stop as lnd exits (every stream ends at once).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { forwardHandle, offerToSwitch, processIncoming } from './forwarding.js';
import { InterceptableSwitch } from './interceptable-switch.js';
import { createLndServer } from './lnd-server.js';
import { mintAdminMacaroon, mintMacaroon, newMacaroonKey, READONLY_PERMISSIONS, type MacaroonKey } from './macaroon.js';
import { lndBackend, type BackendSettings } from './node-backend.js';
import type { NodeContext, Run } from './node-context.js';
import { ensureTlsCertificate, type TlsFiles } from './tls-cert.js';

/** What a node keeps in its folder. */
export interface NodeFiles {
  readonly tls: TlsFiles;
  readonly macaroonKey: MacaroonKey;
  /** The binary admin macaroon. */
  readonly macaroon: Uint8Array;
  readonly macaroonPath: string;
}

/** Creates `dir` and the node's files in it, reusing those already there (a restarted simulator). */
export async function prepareNodeFiles(dir: string): Promise<NodeFiles> {
  await mkdir(dir, { recursive: true });
  const tls = await ensureTlsCertificate(dir);
  const rootKeyPath = join(dir, 'macaroons.rootkey');
  let macaroonKey: MacaroonKey;
  try {
    const rootKey = await readFile(rootKeyPath);
    if (rootKey.length !== 32) throw new Error('bad root key length');
    macaroonKey = { rootKey };
  } catch {
    macaroonKey = newMacaroonKey();
    await writeFile(rootKeyPath, macaroonKey.rootKey, { mode: 0o600 });
  }
  const macaroonPath = join(dir, 'admin.macaroon');
  let macaroon: Uint8Array;
  try {
    macaroon = await readFile(macaroonPath);
  } catch {
    macaroon = mintAdminMacaroon(macaroonKey);
    await writeFile(macaroonPath, macaroon, { mode: 0o600 });
  }
  // LND's readonly.macaroon too: valid, but without the interceptor's permission (offchain:write).
  const readonlyPath = join(dir, 'readonly.macaroon');
  await readFile(readonlyPath).catch(() => writeFile(readonlyPath, mintMacaroon(macaroonKey, READONLY_PERMISSIONS), { mode: 0o600 }));
  return { tls, macaroonKey, macaroon, macaroonPath };
}

/** Where and how a run listens. `port` 0 takes a free one. */
export interface Listen {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsFiles;
}

/**
 * Starts a run of `node` (which must be down): sets `node.run`, binds the gRPC server and follows
 * blocks. Returns the bound port; throws naming the address if it cannot listen. Then
 * {@link replayHtlcs}.
 */
export async function openRun(node: NodeContext, listen: Listen, settings: BackendSettings): Promise<number> {
  const htlcSwitch = new InterceptableSwitch({ requireInterceptor: settings.requireInterceptor(), height: () => node.chain.height });
  const run: Run = {
    stopped: false,
    server: createLndServer(lndBackend(node, settings, () => run)),
    htlcSwitch,
    interceptorClaimed: false,
    htlcEventListeners: new Set(),
    stopBlocks: () => undefined,
  };
  // The run exists before the port opens: a client that reconnects at once finds a live node.
  node.run = run;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      run.server.bindAsync(
        `${listen.host}:${listen.port}`,
        grpc.ServerCredentials.createSsl(null, [{ cert_chain: listen.tls.cert, private_key: listen.tls.key }], false),
        (error, bound) => (error === null ? resolve(bound) : reject(error)),
      );
    });
  } catch (error) {
    run.stopped = true;
    node.run = undefined;
    run.server.forceShutdown();
    throw new Error(`node ${node.name} cannot listen on ${listen.host}:${listen.port}`, { cause: error });
  }
  run.stopBlocks = node.chain.onBlock((block) => {
    if (!run.stopped) run.htlcSwitch.blockConnected(block.height);
  });
  return port;
}

/**
 * Hands the new run what LND replays after a restart: the link re-forwards every HTLC that is locked
 * in but has no outgoing circuit, and contractcourt offers the on-chain ones again.
 */
export function replayHtlcs(node: NodeContext): void {
  const run = node.run;
  if (run === undefined) return;
  for (const htlc of node.incoming.values()) {
    if (htlc.state === 'intercept') offerToSwitch(node, htlc, true);
    else if (htlc.state === 'onChain') run.htlcSwitch.holdOnChain(forwardHandle(node, htlc));
    else if (htlc.state === 'new') processIncoming(node, htlc);
  }
}

/** Stops the current run, if any: the gRPC server at once, then waits until its listener is closed. */
export async function stopRun(node: NodeContext): Promise<void> {
  const run = node.run;
  if (run === undefined) return;
  run.stopped = true;
  node.run = undefined;
  run.stopBlocks();
  run.htlcSwitch.clear();
  run.server.forceShutdown();
  // A restart binds the same port, and a connection accepted by the old listener meanwhile would
  // reach a stopped node (that answers nothing useful) for good.
  await new Promise<void>((resolve) => run.server.tryShutdown(() => resolve()));
}
