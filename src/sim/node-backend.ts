/**
 * What a simulated node's gRPC services (lnd-server.ts) see of it during one run: its facts
 * (GetVersion, GetInfo), final resolutions, the interceptor slot and the HTLCs offered through it,
 * HtlcEvents and blocks. Answers only while the run is live.
 */
import type { BlockEpoch } from './chain.js';
import { interceptedView } from './forwarding.js';
import type { LndBackend } from './lnd-server.js';
import type { MacaroonKey } from './macaroon.js';
import type { NodeContext, Run } from './node-context.js';
import { getInfoMessage, versionMessage } from './node-info.js';

/** The node's settings the backend reports. */
export interface BackendSettings {
  readonly macaroonKey: MacaroonKey;
  /** "major.minor.patch-pre". */
  readonly lndVersion: string;
  /** `--requireinterceptor` as the node runs now. */
  requireInterceptor(): boolean;
}

/** The backend of the run `currentRun()` returns (read lazily: the server is built before the run). */
export function lndBackend(node: NodeContext, settings: BackendSettings, currentRun: () => Run | undefined): LndBackend {
  const live = (): Run | undefined => {
    const run = currentRun();
    return run !== undefined && !run.stopped ? run : undefined;
  };
  return {
    macaroonKey: settings.macaroonKey,
    version: () => versionMessage(settings.lndVersion),
    getInfo: () =>
      getInfoMessage({
        lndVersion: settings.lndVersion,
        publicKey: node.keys.publicKey,
        alias: node.name,
        network: node.network,
        tip: node.chain.tip(),
        nowSeconds: Math.floor(node.now() / 1000),
        channels: node.channels.values().map((c) => ({
          peerPublicKey: c.peerPublicKey,
          active: !c.closed && (c.peer === undefined || !('online' in c.peer) || (c.peer as { online: boolean }).online),
        })),
        requireInterceptor: settings.requireInterceptor(),
        storeFinalHtlcResolutions: node.resolutions.enabled,
      }),
    lookupHtlcResolution: (key) => node.resolutions.lookup(key),
    claimInterceptor: () => {
      const run = live();
      if (run === undefined || run.interceptorClaimed) return false;
      run.interceptorClaimed = true;
      return true;
    },
    setInterceptor: (send) => {
      const run = live();
      if (run === undefined) return;
      if (send === undefined) {
        run.interceptorClaimed = false;
        run.htlcSwitch.setInterceptor(undefined);
        return;
      }
      run.htlcSwitch.setInterceptor((forward, autoFailHeight) => {
        const htlc = node.incoming.get(forward.key);
        const view = htlc === undefined ? undefined : interceptedView(htlc);
        if (view !== undefined) send(view, autoFailHeight);
      });
    },
    resolveIntercepted: (key, resolution) => {
      const run = live();
      if (run === undefined) return 'routerrpc server shutting down';
      return run.htlcSwitch.resolve(key, resolution);
    },
    subscribeHtlcEvents: (listener) => {
      const run = live();
      if (run === undefined) return () => undefined;
      run.htlcEventListeners.add(listener);
      return () => run.htlcEventListeners.delete(listener);
    },
    tip: () => node.chain.tip(),
    blockAt: (height) => node.chain.blockAt(height),
    onBlock: (listener: (block: BlockEpoch) => void) => node.chain.onBlock(listener),
  };
}
