import { FAILURE_PACKET_LENGTH } from '../../src/protocol/index.js';
/**
 * proto <-> domain conversion. Messages go through the real protobuf wire encoding of LND's vendored
 * protos (proto-loader's serializers), so the tests see exactly the shapes grpc-js delivers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NODE_ID_FORWARD_SCID,
  decodeBlockEpoch,
  decodeCircuitKeyOf,
  decodeGetInfo,
  decodeHtlcEvent,
  decodeInterceptRequest,
  decodeU64,
  decodeU64MapKey,
  decodeVersion,
  encodeInterceptResponse,
  encodeLookupHtlcResolution,
  type InterceptorResponse,
} from '../../src/lnd/convert.js';
import { lndServices } from '../../src/lnd/protos.js';

interface MethodDef {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}
const method = (service: string, name: string): MethodDef =>
  (lndServices().packageDefinition[service] as unknown as Record<string, MethodDef>)[name]!;
const interceptor = method('routerrpc.Router', 'HtlcInterceptor');
const htlcEvents = method('routerrpc.Router', 'SubscribeHtlcEvents');

/** What LND sends on the interceptor stream, as grpc-js hands it to us. */
const wireRequest = (fields: Record<string, unknown>): unknown =>
  interceptor.responseDeserialize(interceptor.responseSerialize(fields));
/** What LND receives from us, read back as LND would. */
const wireResponse = (raw: unknown): Record<string, unknown> =>
  interceptor.requestDeserialize(interceptor.requestSerialize(raw)) as Record<string, unknown>;

const hash = new Uint8Array(32).fill(7);
const baseRequest = {
  incoming_circuit_key: { chan_id: '1', htlc_id: '2' },
  incoming_amount_msat: '1001',
  incoming_expiry: 120,
  payment_hash: Buffer.from(hash),
  outgoing_requested_chan_id: '9223372036854775809',
  outgoing_amount_msat: '1000',
  outgoing_expiry: 80,
  onion_blob: Buffer.alloc(1366, 1),
  auto_fail_height: 107,
};

describe('decodeInterceptRequest', () => {
  it('reads every field of ForwardHtlcInterceptRequest, u64s as exact bigints', () => {
    const raw = wireRequest({
      ...baseRequest,
      incoming_circuit_key: { chan_id: '18446744073709551615', htlc_id: '9007199254740993' },
      incoming_amount_msat: '18446744073709551614',
      custom_records: { '65537': Buffer.from('beef', 'hex'), '18446744073709551615': Buffer.from('01', 'hex') },
      in_wire_custom_records: { '65555': Buffer.from('aa', 'hex') },
    });
    const decoded = decodeInterceptRequest(raw);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const htlc = decoded.value;
    expect(htlc.circuitKey).toEqual({ chanId: 0xffff_ffff_ffff_ffffn, htlcId: 9007199254740993n });
    expect(htlc.incomingAmountMsat).toBe(18446744073709551614n);
    expect(htlc.outgoingAmountMsat).toBe(1000n);
    expect(htlc.incomingExpiry).toBe(120);
    expect(htlc.outgoingExpiry).toBe(80);
    expect(htlc.paymentHash).toEqual(hash);
    expect(htlc.outgoingRequestedChanId).toBe(0x8000_0000_0000_0001n);
    expect(htlc.nextHop).toEqual({ kind: 'channel', chanId: 0x8000_0000_0000_0001n });
    expect(htlc.onionBlob).toEqual(new Uint8Array(1366).fill(1));
    expect(htlc.autoFailHeight).toBe(107);
    expect([...htlc.customRecords]).toEqual([
      [65537n, Uint8Array.from([0xbe, 0xef])],
      [0xffff_ffff_ffff_ffffn, Uint8Array.from([1])],
    ]);
    expect([...htlc.inWireCustomRecords]).toEqual([[65555n, Uint8Array.from([0xaa])]]);
  });

  it('reads custom_records keys as grpc-js delivers them: 8 bytes, little-endian', () => {
    const raw = wireRequest({ ...baseRequest, custom_records: { '65537': Buffer.from('01', 'hex') } }) as {
      custom_records: Record<string, Buffer>;
    };
    const [key] = Object.keys(raw.custom_records);
    expect(Buffer.from(key!, 'latin1').toString('hex')).toBe('0100010000000000');
    expect(decodeU64MapKey(key!)).toBe(65537n);
  });

  it('names the next hop: exit for channel 0, a node for a blinded forward by node id', () => {
    const exit = decodeInterceptRequest(wireRequest({ ...baseRequest, outgoing_requested_chan_id: '0' }));
    expect(exit.ok && exit.value.nextHop).toEqual({ kind: 'exit' });

    const nodeId = Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 9)]);
    const blinded = decodeInterceptRequest(
      wireRequest({ ...baseRequest, outgoing_requested_chan_id: NODE_ID_FORWARD_SCID.toString(), outgoing_requested_node_id: nodeId }),
    );
    expect(blinded.ok && blinded.value.nextHop).toEqual({ kind: 'node', nodeId: new Uint8Array(nodeId) });
    expect(blinded.ok && blinded.value.outgoingRequestedChanId).toBe(NODE_ID_FORWARD_SCID);
  });

  it('refuses a request without circuit key, naming the field', () => {
    const decoded = decodeInterceptRequest(wireRequest({ ...baseRequest, incoming_circuit_key: null }));
    expect(decoded).toEqual({ ok: false, error: { kind: 'missingField', field: 'incoming_circuit_key' } });
  });

  it('refuses a payment hash that is not 32 bytes but keeps the circuit key readable', () => {
    const raw = wireRequest({ ...baseRequest, payment_hash: Buffer.alloc(31) });
    expect(decodeInterceptRequest(raw)).toEqual({
      ok: false,
      error: { kind: 'invalidLength', field: 'payment_hash', expected: 32, got: 31 },
    });
    expect(decodeCircuitKeyOf(raw)).toEqual({ chanId: 1n, htlcId: 2n });
  });

  it('refuses a node id that is neither empty nor 33 bytes', () => {
    const decoded = decodeInterceptRequest(wireRequest({ ...baseRequest, outgoing_requested_node_id: Buffer.alloc(32, 2) }));
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.error).toMatchObject({ kind: 'invalidLength', field: 'outgoing_requested_node_id' });
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        decodeInterceptRequest(value);
        decodeCircuitKeyOf(value);
        decodeHtlcEvent(value);
        decodeBlockEpoch(value);
        decodeGetInfo(value);
        decodeVersion(value);
      }),
    );
  });
});

describe('decodeU64', () => {
  it('accepts the u64 range as decimal strings and nothing beyond', () => {
    expect(decodeU64('0', 'f')).toEqual({ ok: true, value: 0n });
    expect(decodeU64('18446744073709551615', 'f')).toEqual({ ok: true, value: 0xffff_ffff_ffff_ffffn });
    expect(decodeU64('18446744073709551616', 'f').ok).toBe(false);
    expect(decodeU64('-1', 'f').ok).toBe(false);
    expect(decodeU64('1e3', 'f').ok).toBe(false);
    expect(decodeU64('', 'f')).toEqual({ ok: false, error: { kind: 'invalidInteger', field: 'f', value: '' } });
  });
});

describe('encodeInterceptResponse', () => {
  const circuitKey = { chanId: 0xffff_ffff_ffff_fffen, htlcId: 3n };

  it('encodes SETTLE with the preimage, as LND reads it', () => {
    const preimage = new Uint8Array(32).fill(5);
    const wire = wireResponse(encodeInterceptResponse({ kind: 'settle', circuitKey, preimage }));
    expect(wire).toMatchObject({
      incoming_circuit_key: { chan_id: '18446744073709551614', htlc_id: '3' },
      action: 'SETTLE',
      failure_code: 'RESERVED',
    });
    expect(new Uint8Array(wire['preimage'] as Buffer)).toEqual(preimage);
  });

  it('encodes FAIL with a 292-byte failure message and no failure code', () => {
    const failureMessage = new Uint8Array(FAILURE_PACKET_LENGTH).fill(9);
    const wire = wireResponse(encodeInterceptResponse({ kind: 'failWithMessage', circuitKey, failureMessage }));
    expect(wire['action']).toBe('FAIL');
    expect(wire['failure_code']).toBe('RESERVED');
    expect((wire['failure_message'] as Buffer).length).toBe(292);
  });

  it('encodes FAIL with each failure code LND accepts', () => {
    for (const code of ['TEMPORARY_CHANNEL_FAILURE', 'INVALID_ONION_VERSION', 'INVALID_ONION_HMAC', 'INVALID_ONION_KEY'] as const) {
      const wire = wireResponse(encodeInterceptResponse({ kind: 'failWithCode', circuitKey, code }));
      expect(wire).toMatchObject({ action: 'FAIL', failure_code: code });
      expect((wire['failure_message'] as Buffer).length).toBe(0);
    }
  });

  it('encodes RESUME', () => {
    expect(wireResponse(encodeInterceptResponse({ kind: 'resume', circuitKey }))).toMatchObject({ action: 'RESUME' });
  });

  it('throws RangeError for what LND would refuse: a short preimage, a failure message of the wrong length, a code it does not accept', () => {
    expect(() => encodeInterceptResponse({ kind: 'settle', circuitKey, preimage: new Uint8Array(31) })).toThrow(RangeError);
    expect(() =>
      encodeInterceptResponse({ kind: 'failWithMessage', circuitKey, failureMessage: new Uint8Array(256) }),
    ).toThrow(RangeError);
    const bad = { kind: 'failWithCode', circuitKey, code: 'MPP_TIMEOUT' } as unknown as InterceptorResponse;
    expect(() => encodeInterceptResponse(bad)).toThrow(RangeError);
    expect(() => encodeInterceptResponse({ kind: 'resume', circuitKey: { chanId: 1n << 64n, htlcId: 0n } })).toThrow(RangeError);
  });

  it('encodes LookupHtlcResolutionRequest from a circuit key', () => {
    expect(encodeLookupHtlcResolution({ chanId: 0x8000_0000_0000_0000n, htlcId: 7n })).toEqual({
      chan_id: '9223372036854775808',
      htlc_index: '7',
    });
  });
});

describe('decodeHtlcEvent', () => {
  const wireEvent = (fields: Record<string, unknown>): unknown =>
    htlcEvents.responseDeserialize(htlcEvents.responseSerialize(fields));

  it('reads a final event with its incoming circuit key', () => {
    const decoded = decodeHtlcEvent(
      wireEvent({
        incoming_channel_id: '123',
        incoming_htlc_id: '4',
        timestamp_ns: '1700000000000000000',
        final_htlc_event: { settled: true, offchain: false },
      }),
    );
    expect(decoded).toEqual({
      ok: true,
      value: {
        kind: 'final',
        event: { circuitKey: { chanId: 123n, htlcId: 4n }, settled: true, offchain: false, timestampNs: 1700000000000000000n },
      },
    });
  });

  it('tells the subscribed marker and the other events apart', () => {
    expect(decodeHtlcEvent(wireEvent({ subscribed_event: {} }))).toEqual({ ok: true, value: { kind: 'subscribed' } });
    expect(decodeHtlcEvent(wireEvent({ forward_fail_event: {} }))).toEqual({ ok: true, value: { kind: 'other' } });
    expect(decodeHtlcEvent(wireEvent({ settle_event: { preimage: Buffer.alloc(32) } }))).toEqual({ ok: true, value: { kind: 'other' } });
  });
});

describe('decodeGetInfo and decodeVersion', () => {
  const getInfo = method('lnrpc.Lightning', 'GetInfo');
  const getVersion = method('verrpc.Versioner', 'GetVersion');

  it('reads the pubkey, network and both flags from GetInfo', () => {
    const pubkey = `03${'cd'.repeat(32)}`;
    const raw = getInfo.responseDeserialize(
      getInfo.responseSerialize({
        identity_pubkey: pubkey,
        block_height: 812345,
        chains: [{ chain: 'bitcoin', network: 'testnet4' }],
        require_htlc_interceptor: true,
        store_final_htlc_resolutions: false,
        version: '0.21.2-beta commit=v0.21.2-beta',
      }),
    );
    expect(decodeGetInfo(raw)).toEqual({
      ok: true,
      value: {
        identityPubkey: pubkey,
        alias: '',
        network: 'testnet4',
        blockHeight: 812345,
        syncedToChain: false,
        requireHtlcInterceptor: true,
        storeFinalHtlcResolutions: false,
        version: '0.21.2-beta commit=v0.21.2-beta',
      },
    });
  });

  it('refuses a GetInfo whose identity_pubkey is not a compressed key', () => {
    const raw = getInfo.responseDeserialize(getInfo.responseSerialize({ identity_pubkey: 'nope' }));
    expect(decodeGetInfo(raw)).toEqual({ ok: false, error: { kind: 'invalidType', field: 'identity_pubkey' } });
  });

  it('reads the release numbers from GetVersion', () => {
    const raw = getVersion.responseDeserialize(
      getVersion.responseSerialize({ version: '0.21.2-beta', app_major: 0, app_minor: 21, app_patch: 2, app_pre_release: 'beta' }),
    );
    expect(decodeVersion(raw)).toEqual({
      ok: true,
      value: { major: 0, minor: 21, patch: 2, preRelease: 'beta', version: '0.21.2-beta', commitHash: '' },
    });
  });
});
