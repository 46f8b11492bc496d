/**
 * The two server streams lnmux only reads, opened on a connection and decoded item by item:
 * - `ChainNotifier.RegisterBlockEpochNtfn` from the tip: LND sends the current block at once, then one
 *   epoch per new block, and also stale blocks after a reorg (lnrpc/chainrpc/chain_server.go): a height
 *   can repeat or go down. The consumer takes each epoch as the node's current height.
 * - `Router.SubscribeHtlcEvents`, reduced to what lnmux needs: the final resolution of each incoming
 *   HTLC (settled or failed, off-chain or on chain). LND emits a final event only with
 *   `--store-final-htlc-resolutions`; events are not replayed, so after a gap (reconnect) the consumer
 *   asks `LookupHtlcResolution` for the HTLCs it still waits on. The first message of every
 *   subscription is a SubscribedEvent: from then on, no final event is missed.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Result } from '../protocol/index.js';
import type { LndConnection } from './connection.js';
import { decodeBlockEpoch, decodeHtlcEvent, type BlockEpoch, type ConvertError, type HtlcEventItem } from './convert.js';
import { readStream, type StreamReader } from './stream-reader.js';

/** An epoch, or why one could not be read. */
export type BlockItem = Result<BlockEpoch, ConvertError>;

/** A decoded HTLC event (final, subscribed, or other), or why it could not be read. */
export type HtlcEventStreamItem = Result<HtlcEventItem, ConvertError>;

/** Calls the server-streaming `method` of `client` with `request` and decodes what it sends. */
function openServerStream<T>(client: unknown, method: string, request: object, decode: (raw: unknown) => T): StreamReader<T> {
  const call = (client as Record<string, (request: unknown) => grpc.ClientReadableStream<unknown>>)[method]!.call(client, request);
  return readStream(call, decode);
}

/** Opens the block epoch stream on `connection`, from the current tip. */
export function openBlockStream(connection: LndConnection): StreamReader<BlockItem> {
  // An empty BlockEpoch (no hash, height 0) asks for notifications from the tip, with no backlog.
  return openServerStream(connection.chainNotifier, 'RegisterBlockEpochNtfn', {}, decodeBlockEpoch);
}

/** Opens the HTLC event stream on `connection`. */
export function openHtlcEventStream(connection: LndConnection): StreamReader<HtlcEventStreamItem> {
  return openServerStream(connection.router, 'SubscribeHtlcEvents', {}, decodeHtlcEvent);
}
