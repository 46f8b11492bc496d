/**
 * A minimal LND-like gRPC server for the gateway's tests: LND's own protos over TLS on loopback, the
 * macaroon check with LND's error texts, GetVersion/GetInfo, and the interceptor semantics of
 * `--requireinterceptor` as LND v0.21.2-beta implements them (htlcswitch/interceptable_switch.go,
 * held_htlc_set.go, lnrpc/routerrpc/forward_interceptor.go):
 * - one interceptor at a time ("interceptor already exists"),
 * - a new HTLC with no interceptor connected is failed; a replayed one (after a restart) is held,
 * - held HTLCs are offered again, same circuit key, when an interceptor connects,
 * - a response for a circuit key that is not held, or that LND refuses, ends the stream with an error.
 * Final HTLC events and LookupHtlcResolution follow the interceptor's answers.
 *
 * Not the simulator (src/sim/): no onions, no channels, no payer. A stand-in until the simulator lands.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { lndServices } from '../../../src/lnd/protos.js';
import type { TlsFiles } from './tls.js';
import { within } from '../../support/wait.js';

export interface FakeHtlc {
  readonly chanId: bigint;
  readonly htlcId: bigint;
  readonly paymentHash: Uint8Array;
  readonly amountMsat?: bigint;
  readonly expiry?: number;
  readonly outgoingChanId?: bigint;
  readonly onionBlob?: Uint8Array;
  readonly customRecords?: ReadonlyMap<bigint, Uint8Array>;
}

export type FakeResolution =
  | { readonly key: string; readonly action: 'SETTLE'; readonly preimage: Buffer }
  | { readonly key: string; readonly action: 'FAIL'; readonly failureMessage: Buffer; readonly failureCode: string }
  | { readonly key: string; readonly action: 'RESUME' };

export interface FakeLndOptions {
  readonly tls: TlsFiles;
  readonly macaroon: Uint8Array;
  readonly pubkey: string;
  readonly network?: string;
  readonly version?: { major: number; minor: number; patch: number; preRelease?: string };
  readonly requireInterceptor?: boolean;
  readonly storeFinalHtlcResolutions?: boolean;
  readonly height?: number;
}

interface RawResponse {
  incoming_circuit_key: { chan_id: string; htlc_id: string } | null;
  action: string;
  preimage: Buffer;
  failure_message: Buffer;
  failure_code: string;
}

type Duplex = grpc.ServerDuplexStream<RawResponse, unknown>;
type Writable = grpc.ServerWritableStream<unknown, unknown>;

const ACCEPTED_CODES = new Set(['RESERVED', 'TEMPORARY_CHANNEL_FAILURE', 'INVALID_ONION_VERSION', 'INVALID_ONION_HMAC', 'INVALID_ONION_KEY']);

export const keyOf = (chanId: bigint | string, htlcId: bigint | string): string => `${chanId}:${htlcId}`;

export class FakeLnd {
  /** What GetInfo / GetVersion answer; tests change it between (re)connects. */
  pubkey: string;
  network: string;
  version: { major: number; minor: number; patch: number; preRelease?: string };
  requireInterceptor: boolean;
  storeFinalHtlcResolutions: boolean;
  height: number;

  readonly held = new Map<string, FakeHtlc>();
  readonly finals = new Map<string, { settled: boolean; offchain: boolean }>();
  readonly resolutions: FakeResolution[] = [];
  /** Every HTLC request written to an interceptor stream, by circuit key (replays count). */
  readonly offers = new Map<string, number>();
  getInfoCalls = 0;

  #server: grpc.Server | undefined;
  #port = 0;
  #interceptor: Duplex | undefined;
  readonly #blockSubs = new Set<Writable>();
  readonly #eventSubs = new Set<Writable>();
  readonly #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  readonly #options: FakeLndOptions;
  readonly #macaroonHex: string;

  private constructor(options: FakeLndOptions) {
    this.#options = options;
    this.#macaroonHex = Buffer.from(options.macaroon).toString('hex');
    this.pubkey = options.pubkey;
    this.network = options.network ?? 'regtest';
    this.version = options.version ?? { major: 0, minor: 21, patch: 2, preRelease: 'beta' };
    this.requireInterceptor = options.requireInterceptor ?? true;
    this.storeFinalHtlcResolutions = options.storeFinalHtlcResolutions ?? true;
    this.height = options.height ?? 800_000;
  }

  static async start(options: FakeLndOptions): Promise<FakeLnd> {
    const fake = new FakeLnd(options);
    await fake.listen();
    return fake;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get interceptorConnected(): boolean {
    return this.#interceptor !== undefined;
  }

  /** Starts serving (again, on the same port after `stop`). */
  async listen(): Promise<void> {
    const services = lndServices();
    const server = new grpc.Server();
    server.addService(services.Versioner.service, { GetVersion: this.#unary(() => this.#versionReply()) });
    server.addService(services.Lightning.service, {
      GetInfo: this.#unary(() => {
        this.getInfoCalls++;
        return this.#infoReply();
      }),
      LookupHtlcResolution: this.#unary((request: { chan_id: string; htlc_index: string }) => {
        if (!this.storeFinalHtlcResolutions) {
          throw { code: grpc.status.UNAVAILABLE, details: 'cannot lookup with flag --store-final-htlc-resolutions=false' };
        }
        const final = this.finals.get(keyOf(request.chan_id, request.htlc_index));
        if (!final) throw { code: grpc.status.NOT_FOUND, details: 'htlc unknown' };
        return final;
      }),
    });
    server.addService(services.Router.service, {
      HtlcInterceptor: (call: Duplex) => this.#onInterceptor(call),
      SubscribeHtlcEvents: (call: Writable) => {
        if (!this.#authorize(call)) return;
        this.#eventSubs.add(call);
        call.on('cancelled', () => this.#eventSubs.delete(call));
        call.write({ subscribed_event: {} });
      },
    });
    server.addService(services.ChainNotifier.service, {
      RegisterBlockEpochNtfn: (call: Writable) => {
        if (!this.#authorize(call)) return;
        this.#blockSubs.add(call);
        call.on('cancelled', () => this.#blockSubs.delete(call));
        call.write(this.#epoch());
      },
    });
    const credentials = grpc.ServerCredentials.createSsl(null, [
      { private_key: this.#options.tls.key, cert_chain: this.#options.tls.cert },
    ]);
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.#port}`, credentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
    this.#server = server;
  }

  /** Kills the server like a crashed LND: every call ends, nothing is said. Held HTLCs are kept. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#interceptor = undefined;
    this.#blockSubs.clear();
    this.#eventSubs.clear();
    server?.forceShutdown();
    this.#notify();
  }

  /** An LND restart: down, then up on the same port, the held HTLCs still held (replays). */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  /**
   * Resolves when `test` holds (checked now and after every change, so no state is missed between two
   * polls); rejects naming `what` after `timeoutMs`, like the polling waits of test/support/wait.ts.
   */
  until(test: () => boolean, what = 'a state of the fake LND', timeoutMs?: number): Promise<void> {
    if (test()) return Promise.resolve();
    const waiter = { test, resolve: (): void => {} };
    const reached = new Promise<void>((resolve) => {
      waiter.resolve = resolve;
      this.#waiters.push(waiter);
    });
    return within(reached, what, timeoutMs).finally(() => {
      const at = this.#waiters.indexOf(waiter);
      if (at >= 0) this.#waiters.splice(at, 1);
    });
  }

  /** An HTLC arrives for forwarding. Behaves like LND's switch with or without an interceptor. */
  offer(htlc: FakeHtlc, options: { replay?: boolean } = {}): void {
    const key = keyOf(htlc.chanId, htlc.htlcId);
    if (this.held.has(key)) return;
    if (!this.#interceptor) {
      if (!this.requireInterceptor) return this.#record({ key, action: 'RESUME' });
      if (!options.replay) {
        this.#final(key, false);
        return this.#notify();
      }
      this.held.set(key, htlc);
      return this.#notify();
    }
    this.held.set(key, htlc);
    this.#send(this.#interceptor, htlc);
    this.#notify();
  }

  /** A new block: every block subscriber hears of it. */
  mineBlock(): void {
    this.height++;
    for (const sub of this.#blockSubs) sub.write(this.#epoch());
  }

  /** Stops reading the interceptor stream (HTTP/2 flow control then stalls the client's writes). */
  pauseInterceptorReads(): void {
    this.#interceptor?.pause();
  }

  /** Ends the interceptor stream with an error, as LND does on a response it refuses. */
  failInterceptor(details: string, code = grpc.status.UNKNOWN): void {
    const call = this.#interceptor;
    if (!call) return;
    this.#interceptor = undefined;
    call.emit('error', { code, details });
    this.#notify();
  }

  // ---------------------------------------------------------------------------------------------

  #authorize(call: { metadata: grpc.Metadata; emit(event: 'error', error: unknown): boolean }): boolean {
    const macaroons = call.metadata.get('macaroon');
    // macaroons/service.go and macaroon-bakery: plain Go errors, hence status UNKNOWN.
    if (macaroons.length !== 1) {
      call.emit('error', { code: grpc.status.UNKNOWN, details: `expected 1 macaroon, got ${macaroons.length}` });
      return false;
    }
    if (String(macaroons[0]) !== this.#macaroonHex) {
      call.emit('error', { code: grpc.status.UNKNOWN, details: 'verification failed: signature mismatch after caveat verification' });
      return false;
    }
    return true;
  }

  #unary<Req>(handler: (request: Req) => unknown): grpc.handleUnaryCall<Req, unknown> {
    return (call, callback) => {
      const macaroons = call.metadata.get('macaroon');
      if (macaroons.length !== 1) {
        return callback({ code: grpc.status.UNKNOWN, details: `expected 1 macaroon, got ${macaroons.length}` });
      }
      if (String(macaroons[0]) !== this.#macaroonHex) {
        return callback({ code: grpc.status.UNKNOWN, details: 'verification failed: signature mismatch after caveat verification' });
      }
      try {
        callback(null, handler(call.request));
      } catch (error) {
        callback(error as grpc.ServiceError);
      }
    };
  }

  #versionReply(): unknown {
    const v = this.version;
    const pre = v.preRelease ?? 'beta';
    return {
      commit: `v${v.major}.${v.minor}.${v.patch}-${pre}`,
      commit_hash: '0'.repeat(40),
      version: `${v.major}.${v.minor}.${v.patch}-${pre}`,
      app_major: v.major,
      app_minor: v.minor,
      app_patch: v.patch,
      app_pre_release: pre,
      build_tags: ['autopilotrpc', 'signrpc', 'walletrpc', 'chainrpc', 'invoicesrpc', 'routerrpc'],
      go_version: 'go1.26',
    };
  }

  #infoReply(): unknown {
    return {
      version: `${this.version.major}.${this.version.minor}.${this.version.patch}-beta`,
      identity_pubkey: this.pubkey,
      alias: 'fake',
      block_height: this.height,
      block_hash: '00'.repeat(32),
      synced_to_chain: true,
      chains: [{ chain: 'bitcoin', network: this.network }],
      require_htlc_interceptor: this.requireInterceptor,
      store_final_htlc_resolutions: this.storeFinalHtlcResolutions,
    };
  }

  #epoch(): unknown {
    const hash = Buffer.alloc(32);
    hash.writeUInt32LE(this.height);
    return { hash, height: this.height };
  }

  #onInterceptor(call: Duplex): void {
    if (!this.#authorize(call)) return;
    if (this.#interceptor) {
      call.emit('error', { code: grpc.status.UNKNOWN, details: 'interceptor already exists' });
      return;
    }
    this.#interceptor = call;
    const gone = (): void => {
      if (this.#interceptor !== call) return;
      this.#interceptor = undefined;
      // Without --requireinterceptor, LND resumes what it held when the interceptor leaves.
      if (!this.requireInterceptor) {
        for (const key of [...this.held.keys()]) {
          this.held.delete(key);
          this.#record({ key, action: 'RESUME' });
        }
      }
      this.#notify();
    };
    call.on('cancelled', gone);
    call.on('end', gone);
    call.on('error', gone);
    call.on('data', (response: RawResponse) => {
      const refusal = this.#resolve(response);
      if (refusal && this.#interceptor === call) {
        this.#interceptor = undefined;
        call.emit('error', refusal);
        this.#notify();
      }
    });
    // Replay every held HTLC, same circuit key.
    for (const htlc of this.held.values()) this.#send(call, htlc);
    this.#notify();
  }

  /** Applies a response like forward_interceptor.go; returns the status that ends the stream, if any. */
  #resolve(response: RawResponse): { code: number; details: string } | undefined {
    const ck = response.incoming_circuit_key;
    if (!ck) return { code: grpc.status.INVALID_ARGUMENT, details: 'CircuitKey missing from ForwardHtlcInterceptResponse' };
    const key = keyOf(ck.chan_id, ck.htlc_id);
    const htlc = this.held.get(key);
    if (response.action === 'FAIL') {
      const hasMessage = response.failure_message.length > 0;
      if (hasMessage && response.failure_code !== 'RESERVED') {
        return { code: grpc.status.INVALID_ARGUMENT, details: 'failure message and failure code are mutually exclusive' };
      }
      if (hasMessage && response.failure_message.length !== 292) {
        return { code: grpc.status.INVALID_ARGUMENT, details: 'failure message length invalid' };
      }
      if (!hasMessage && !ACCEPTED_CODES.has(response.failure_code)) {
        return { code: grpc.status.INVALID_ARGUMENT, details: `unsupported failure code: ${response.failure_code}` };
      }
    }
    if (!htlc) return { code: grpc.status.UNKNOWN, details: `forward does not exist: ${key}` };
    switch (response.action) {
      case 'SETTLE': {
        const hash = createHash('sha256').update(response.preimage).digest();
        if (!hash.equals(Buffer.from(htlc.paymentHash))) return { code: grpc.status.UNKNOWN, details: 'preimage does not match hash' };
        this.held.delete(key);
        this.#record({ key, action: 'SETTLE', preimage: response.preimage });
        this.#final(key, true);
        return undefined;
      }
      case 'FAIL':
        this.held.delete(key);
        this.#record({ key, action: 'FAIL', failureMessage: response.failure_message, failureCode: response.failure_code });
        this.#final(key, false);
        return undefined;
      case 'RESUME':
        this.held.delete(key);
        this.#record({ key, action: 'RESUME' });
        return undefined;
      default:
        return { code: grpc.status.INVALID_ARGUMENT, details: `unrecognized resolve action ${response.action}` };
    }
  }

  #send(call: Duplex, htlc: FakeHtlc): void {
    const key = keyOf(htlc.chanId, htlc.htlcId);
    this.offers.set(key, (this.offers.get(key) ?? 0) + 1);
    const custom: Record<string, Buffer> = {};
    for (const [type, value] of htlc.customRecords ?? []) custom[type.toString()] = Buffer.from(value);
    call.write({
      incoming_circuit_key: { chan_id: htlc.chanId.toString(), htlc_id: htlc.htlcId.toString() },
      incoming_amount_msat: ((htlc.amountMsat ?? 1000n) + 1n).toString(),
      incoming_expiry: (htlc.expiry ?? this.height + 80) + 40,
      payment_hash: Buffer.from(htlc.paymentHash),
      outgoing_requested_chan_id: (htlc.outgoingChanId ?? 0x8000_0000_0000_0001n).toString(),
      outgoing_amount_msat: (htlc.amountMsat ?? 1000n).toString(),
      outgoing_expiry: htlc.expiry ?? this.height + 80,
      custom_records: custom,
      onion_blob: Buffer.from(htlc.onionBlob ?? new Uint8Array(1366)),
      auto_fail_height: (htlc.expiry ?? this.height + 80) + 40 - 13,
      in_wire_custom_records: {},
    });
  }

  #record(resolution: FakeResolution): void {
    this.resolutions.push(resolution);
    this.#notify();
  }

  #final(key: string, settled: boolean): void {
    if (!this.storeFinalHtlcResolutions) return;
    this.finals.set(key, { settled, offchain: true });
    const [chanId, htlcId] = key.split(':') as [string, string];
    for (const sub of this.#eventSubs) {
      sub.write({
        incoming_channel_id: chanId,
        incoming_htlc_id: htlcId,
        timestamp_ns: (BigInt(Date.now()) * 1_000_000n).toString(),
        final_htlc_event: { settled, offchain: true },
      });
    }
    this.#notify();
  }

  #notify(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (waiter.test()) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}
