/**
 * `Router.SubscribeHtlcEvents`, reduced to what lnmux needs: the final resolution of each incoming
 * HTLC (settled or failed, off-chain or on chain). LND emits a final event only with
 * `--store-final-htlc-resolutions`; events are not replayed, so after a gap (reconnect) the consumer
 * asks `LookupHtlcResolution` for the HTLCs it still waits on. The first message of every
 * subscription is a SubscribedEvent: from then on, no final event is missed.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Result } from '../protocol/index.js';
import type { LndConnection } from './connection.js';
import { decodeHtlcEvent, type ConvertError, type HtlcEventItem } from './convert.js';
import { readStream, type StreamReader } from './stream-reader.js';

/** A decoded HTLC event (final, subscribed, or other), or why it could not be read. */
export type HtlcEventStreamItem = Result<HtlcEventItem, ConvertError>;

/** Opens the HTLC event stream on `connection`. */
export function openHtlcEventStream(connection: LndConnection): StreamReader<HtlcEventStreamItem> {
  type Method = (request: unknown) => grpc.ClientReadableStream<unknown>;
  const client = connection.router as unknown as { SubscribeHtlcEvents: Method };
  const call = client.SubscribeHtlcEvents({});
  return readStream(call, decodeHtlcEvent);
}
