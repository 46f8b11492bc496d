/**
 * `ChainNotifier.RegisterBlockEpochNtfn` from the tip: LND sends the current block at once, then
 * one epoch per new block, and also stale blocks after a reorg (lnrpc/chainrpc/chain_server.go): a
 * height can repeat or go down. The consumer takes each epoch as the node's current height.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Result } from '../protocol/index.js';
import type { LndConnection } from './connection.js';
import { decodeBlockEpoch, type BlockEpoch, type ConvertError } from './convert.js';
import { readStream, type StreamReader } from './stream-reader.js';

/** An epoch, or why one could not be read. */
export type BlockItem = Result<BlockEpoch, ConvertError>;

/** Opens the block epoch stream on `connection`, from the current tip. */
export function openBlockStream(connection: LndConnection): StreamReader<BlockItem> {
  type Method = (request: unknown) => grpc.ClientReadableStream<unknown>;
  const client = connection.chainNotifier as unknown as { RegisterBlockEpochNtfn: Method };
  // An empty BlockEpoch (no hash, height 0) asks for notifications from the tip, with no backlog.
  const call = client.RegisterBlockEpochNtfn({});
  return readStream(call, decodeBlockEpoch);
}
