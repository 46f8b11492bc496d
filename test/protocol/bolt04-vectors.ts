/** Loads the BOLT 4 vectors kept verbatim in test/vectors/bolt04/ (see the README there). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeBigSize } from '../../src/protocol/bigsize.js';
import { hexToBytes } from '../../src/protocol/bytes.js';

const read = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../vectors/bolt04/${name}`, import.meta.url)), 'utf8');

export interface OnionVector {
  readonly sessionKey: Uint8Array;
  readonly associatedData: Uint8Array;
  /** Each hop's public key and raw TLV payload (the vector's length prefix removed). */
  readonly hops: { readonly publicKey: Uint8Array; readonly payload: Uint8Array }[];
  readonly onion: Uint8Array;
  /** The hops' private keys, in route order. */
  readonly privateKeys: Uint8Array[];
}

/** bolt04/onion-test.json. Its payloads "already have the variable length encoded": strip it. */
export function onionVector(): OnionVector {
  const json = JSON.parse(read('onion-test.json')) as {
    generate: { session_key: string; associated_data: string; hops: { pubkey: string; payload: string }[] };
    onion: string;
    decode: string[];
  };
  return {
    sessionKey: hexToBytes(json.generate.session_key),
    associatedData: hexToBytes(json.generate.associated_data),
    hops: json.generate.hops.map((hop) => {
      const framed = hexToBytes(hop.payload);
      const length = decodeBigSize(framed, 0);
      if (!length.ok) throw new Error('vector payload without a BigSize length');
      const payload = framed.subarray(length.value.length);
      if (payload.length !== Number(length.value.value)) throw new Error('vector payload length mismatch');
      return { publicKey: hexToBytes(hop.pubkey), payload };
    }),
    onion: hexToBytes(json.onion),
    privateKeys: json.decode.map(hexToBytes),
  };
}

export interface ErrorVectorHop {
  readonly publicKey: Uint8Array;
  readonly sharedSecret: Uint8Array;
  readonly ammagKey: Uint8Array;
  readonly umKey?: Uint8Array;
  /** The erring hop's packet body, without its HMAC. */
  readonly payload?: Uint8Array;
}

/** bolt04/onion-error-test.json: node 4 returns failure 0x2002, padded to 256 (a 292-byte packet). */
export function onionErrorVector(): { failureMessage: Uint8Array; hops: ErrorVectorHop[]; errorPacket: Uint8Array } {
  const json = JSON.parse(read('onion-error-test.json')) as {
    generate: {
      failure_message: string;
      hops: { pubkey: string; hop_shared_secret: string; ammag_key: string; um_key?: string; payload?: string }[];
    };
    errorpacket: string;
  };
  return {
    failureMessage: hexToBytes(json.generate.failure_message),
    hops: json.generate.hops.map((hop) => ({
      publicKey: hexToBytes(hop.pubkey),
      sharedSecret: hexToBytes(hop.hop_shared_secret),
      ammagKey: hexToBytes(hop.ammag_key),
      ...(hop.um_key === undefined ? {} : { umKey: hexToBytes(hop.um_key) }),
      ...(hop.payload === undefined ? {} : { payload: hexToBytes(hop.payload) }),
    })),
    errorPacket: hexToBytes(json.errorpacket),
  };
}

export interface ErrorTraceLayer {
  readonly sharedSecret: Uint8Array;
  readonly ammagKey: Uint8Array;
  readonly stream: Uint8Array;
  /** The hop whose layer this is (the trace goes from node 4 back to node 0). */
  readonly node: number;
  readonly errorPacket: Uint8Array;
}

export interface ErrorTrace {
  /** `failuremsg || pad_len || pad`, as the trace prints it. */
  readonly encodedFailureMessage: Uint8Array;
  readonly sharedSecret: Uint8Array;
  /** `failure_len || failuremsg || pad_len || pad`. */
  readonly payload: Uint8Array;
  readonly umKey: Uint8Array;
  readonly rawErrorPacket: Uint8Array;
  readonly layers: ErrorTraceLayer[];
}

/** The "Returning Errors" trace of 04-onion-routing.md's "Test Vector" section (1060-byte packets). */
export function returningErrorsTrace(): ErrorTrace {
  const text = read('04-onion-routing-test-vector.md');
  const section = text.slice(0, text.indexOf('## Returning success'));
  const [creating, ...forwarding] = section.split('# forwarding error packet');
  const field = (block: string, name: string): Uint8Array => {
    const match = new RegExp(`^\\s*${name}\\s*[=:]\\s*([0-9a-f]+)\\s*$`, 'm').exec(block);
    if (match === null) throw new Error(`trace: no ${name}`);
    return hexToBytes(match[1]!);
  };
  if (creating === undefined) throw new Error('trace: no error creation');
  return {
    encodedFailureMessage: field(creating, 'encoded_failure_message'),
    sharedSecret: field(creating, 'shared_secret'),
    payload: field(creating, 'payload'),
    umKey: field(creating, 'um_key'),
    rawErrorPacket: field(creating, 'raw_error_packet'),
    layers: forwarding.map((block) => {
      const node = /error packet for node (\d+):/.exec(block);
      if (node === null) throw new Error('trace: no error packet');
      return {
        sharedSecret: field(block, 'shared_secret'),
        ammagKey: field(block, 'ammag_key'),
        stream: field(block, 'stream'),
        node: Number(node[1]),
        errorPacket: field(block, `error packet for node ${node[1]}`),
      };
    }),
  };
}
