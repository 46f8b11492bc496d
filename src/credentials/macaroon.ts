/**
 * Macaroons in LND's convention, over the `macaroon` npm package (go-macaroon/js-macaroon: the binary V2
 * format go-macaroon reads and writes, HMAC-SHA256 signatures chained from the root key). What LND adds
 * on top, and this file does too, is the identifier: a bakery v3 identifier (macaroon-bakery's
 * `macaroonpb.MacaroonId`): the byte 3, then a protobuf
 *
 *     message MacaroonId { bytes nonce = 1; bytes storageId = 2; repeated Op ops = 3; }
 *     message Op { string entity = 1; repeated string actions = 2; }
 *
 * where storageId names the root key (LND's default macaroons use "0") and ops are the permissions,
 * `entity:action` pairs such as `invoices:write`. The permissions are inside the signed identifier, so a
 * holder cannot widen them; first-party caveats (`time-before …`) can only narrow a macaroon.
 *
 * The simulator (src/sim/macaroon.ts, LND's wire errors) and the daemon's API (src/api/auth.ts) both mint
 * and check their macaroons here.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { err, ok, type Result } from '../protocol/index.js';

/** The subset of the `macaroon` package's API used here (it ships no type declarations). */
interface LibMacaroon {
  readonly identifier: Uint8Array;
  readonly location: string;
  readonly caveats: readonly { readonly identifier: Uint8Array; readonly vid?: Uint8Array }[];
  addFirstPartyCaveat(condition: Uint8Array | string): void;
  verify(rootKey: Uint8Array, check: (condition: string) => string | null): void;
  exportBinary(): Uint8Array;
}
interface MacaroonLibrary {
  newMacaroon(params: { identifier: Uint8Array; location: string; rootKey: Uint8Array; version: 2 }): LibMacaroon;
  importMacaroon(bytes: Uint8Array): LibMacaroon;
}
const library = createRequire(import.meta.url)('macaroon') as MacaroonLibrary;

/** A permission: an entity and the actions allowed on it (LND: `{ entity: 'invoices', actions: ['read', 'write'] }`). */
export interface MacaroonOp {
  readonly entity: string;
  readonly actions: readonly string[];
}

/** The root key id of LND's default macaroons (`macaroons.DefaultRootKeyID`). */
export const DEFAULT_ROOT_KEY_ID = '0';
/** bakery.Version3: the first byte of every identifier LND mints and accepts. */
const BAKERY_VERSION_3 = 3;
/** Nonce length of LND's identifiers, bytes. */
const NONCE_BYTES = 24;

export interface MintOptions {
  /** The macaroon's location: LND writes "lnd". */
  readonly location: string;
  readonly ops: readonly MacaroonOp[];
  /** The storage id of the root key; default "0". */
  readonly rootKeyId?: string;
  readonly random?: (n: number) => Uint8Array;
}

/** Mints a binary V2 macaroon with a bakery v3 identifier carrying `ops`, signed with `rootKey`. */
export function mintMacaroon(rootKey: Uint8Array, options: MintOptions): Uint8Array {
  const random = options.random ?? randomBytes;
  const id = encodeBakeryId({ nonce: random(NONCE_BYTES), rootKeyId: options.rootKeyId ?? DEFAULT_ROOT_KEY_ID, ops: options.ops });
  return library.newMacaroon({ identifier: id, location: options.location, rootKey, version: 2 }).exportBinary();
}

/** Adds a first-party caveat (`time-before 2030-01-01T00:00:00Z`) to a binary macaroon: a narrower one. */
export function addFirstPartyCaveat(macaroon: Uint8Array, condition: string): Uint8Array {
  const m = library.importMacaroon(macaroon);
  m.addFirstPartyCaveat(condition);
  return m.exportBinary();
}

/** A bakery v3 identifier, decoded. */
export interface BakeryId {
  readonly nonce: Uint8Array;
  readonly rootKeyId: string;
  readonly ops: readonly MacaroonOp[];
}

/** Why a macaroon was refused; `message` is go-macaroon's or bakery's text where one exists. */
export type MacaroonRefusal =
  /** Not a binary V2 macaroon (the library's parse error in `message`). */
  | { readonly kind: 'malformed'; readonly message: string }
  /** A macaroon whose identifier is not a bakery v3 identifier. */
  | { readonly kind: 'invalidId'; readonly message: string }
  /** Signed with a root key id this verifier does not have. */
  | { readonly kind: 'unknownRootKey'; readonly rootKeyId: string }
  /** The signature chain does not end in the macaroon's signature: another root key, or an altered macaroon. */
  | { readonly kind: 'signatureMismatch'; readonly message: string }
  /** A caveat that `checkCaveat` refused, or a third-party caveat (none is ever discharged here). */
  | { readonly kind: 'caveatRefused'; readonly caveat: string; readonly message: string };

/** A verified macaroon: its identifier's permissions and its first-party caveats (all satisfied). */
export interface VerifiedMacaroon {
  readonly id: BakeryId;
  readonly location: string;
  readonly caveats: readonly string[];
}

export interface VerifyOptions {
  /** Root key ids this verifier holds; default only "0". */
  readonly rootKeyId?: string;
  /**
   * Checks a first-party caveat of a correctly signed macaroon: undefined if it holds, else why not.
   * Default: every caveat holds (the simulator's choice, as an admin.macaroon with caveats LND cannot
   * judge is still rare); a service should refuse the ones it does not understand.
   */
  readonly checkCaveat?: (condition: string) => string | undefined;
}

/**
 * Verifies a binary macaroon against `rootKey`: parses it (library), decodes its bakery identifier,
 * checks the root key id, the signature chain (library), then each first-party caveat. Never throws.
 */
export function verifyMacaroon(rootKey: Uint8Array, bytes: Uint8Array, options: VerifyOptions = {}): Result<VerifiedMacaroon, MacaroonRefusal> {
  let m: LibMacaroon;
  try {
    m = library.importMacaroon(bytes);
  } catch (error) {
    return err({ kind: 'malformed', message: messageOf(error) });
  }
  const identifier = m.identifier;
  if (identifier.length < 1 || identifier[0] !== BAKERY_VERSION_3) return err({ kind: 'invalidId', message: 'invalid ID' });
  const id = decodeBakeryId(identifier);
  if (!id.ok) return err({ kind: 'invalidId', message: `cannot unmarshal macaroon id: ${id.error}` });
  if (id.value.rootKeyId !== (options.rootKeyId ?? DEFAULT_ROOT_KEY_ID)) return err({ kind: 'unknownRootKey', rootKeyId: id.value.rootKeyId });
  const thirdParty = m.caveats.find((c) => c.vid !== undefined);
  if (thirdParty !== undefined) {
    const caveat = Buffer.from(thirdParty.identifier).toString('hex');
    return err({ kind: 'caveatRefused', caveat, message: `cannot find discharge macaroon for caveat ${caveat}` });
  }
  const conditions: string[] = [];
  try {
    // The library checks each first-party caveat while it chains the signature; record them here and
    // judge them after the signature is known good, so that an unsigned caveat is never evaluated.
    m.verify(rootKey, (condition) => {
      conditions.push(condition);
      return null;
    });
  } catch (error) {
    // A caveat that is not UTF-8 fails the library's decoding: a macaroon no signer of ours made.
    return err({ kind: 'signatureMismatch', message: messageOf(error) });
  }
  for (const condition of conditions) {
    const refused = options.checkCaveat?.(condition);
    if (refused !== undefined) return err({ kind: 'caveatRefused', caveat: condition, message: `caveat check failed (${condition}): ${refused}` });
  }
  return ok({ id: id.value, location: m.location, caveats: conditions });
}

/** True if `ops` grant `action` on `entity`. */
export function allows(ops: readonly MacaroonOp[], entity: string, action: string): boolean {
  return ops.some((op) => op.entity === entity && op.actions.includes(action));
}

/**
 * Checks LND's `time-before <RFC 3339 time>` caveat (macaroons/constraints.go): holds while `now` is
 * before the time. Undefined for any other condition (not this checker's).
 */
export function checkTimeBefore(condition: string, now: Date): Result<void, string> | undefined {
  const match = /^time-before (\S+)$/.exec(condition);
  if (match === null) return undefined;
  const deadline = Date.parse(match[1]!);
  if (Number.isNaN(deadline)) return err(`cannot parse time ${JSON.stringify(match[1])}`);
  return now.getTime() < deadline ? ok(undefined) : err('macaroon has expired');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// --- the bakery v3 identifier's protobuf ---

function uvarint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function bytesField(field: number, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(uvarint((field << 3) | 2)), Buffer.from(uvarint(data.length)), data]);
}

/** Encodes a bakery v3 identifier, fields in LND's order. */
export function encodeBakeryId(id: BakeryId): Uint8Array {
  const ops = id.ops.map((op) =>
    bytesField(3, Buffer.concat([bytesField(1, Buffer.from(op.entity)), ...op.actions.map((a) => bytesField(2, Buffer.from(a)))])),
  );
  return Buffer.concat([Buffer.from([BAKERY_VERSION_3]), bytesField(1, id.nonce), bytesField(2, Buffer.from(id.rootKeyId)), ...ops]);
}

type Cursor = { readonly bytes: Uint8Array; at: number };

function readVarint(c: Cursor): Result<number, string> {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (c.at >= c.bytes.length) return err('truncated varint');
    const b = c.bytes[c.at++]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value > 0x7fffffff ? err('varint out of range') : ok(value);
  }
  return err('varint out of range');
}

/** The fields of a protobuf message: each length-delimited one as bytes; varints skipped; others refused. */
function readFields(bytes: Uint8Array): Result<{ field: number; data: Uint8Array }[], string> {
  const c: Cursor = { bytes, at: 0 };
  const fields: { field: number; data: Uint8Array }[] = [];
  while (c.at < bytes.length) {
    const key = readVarint(c);
    if (!key.ok) return key;
    const wire = key.value & 7;
    if (wire === 0) {
      const skipped = readVarint(c);
      if (!skipped.ok) return skipped;
    } else if (wire === 2) {
      const length = readVarint(c);
      if (!length.ok) return length;
      if (length.value > bytes.length - c.at) return err('truncated field');
      fields.push({ field: key.value >>> 3, data: bytes.subarray(c.at, c.at + length.value) });
      c.at += length.value;
    } else {
      return err(`unsupported wire type ${wire}`);
    }
  }
  return ok(fields);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(data: Uint8Array): Result<string, string> {
  try {
    return ok(utf8.decode(data));
  } catch {
    return err('string field is not UTF-8');
  }
}

/** Decodes a bakery v3 identifier (its first byte, 3, included). */
export function decodeBakeryId(identifier: Uint8Array): Result<BakeryId, string> {
  if (identifier[0] !== BAKERY_VERSION_3) return err('not a bakery v3 identifier');
  const fields = readFields(identifier.subarray(1));
  if (!fields.ok) return fields;
  let nonce: Uint8Array = new Uint8Array(0);
  let rootKeyId = '';
  const ops: MacaroonOp[] = [];
  for (const { field, data } of fields.value) {
    if (field === 1) nonce = data;
    else if (field === 2) {
      const id = text(data);
      if (!id.ok) return id;
      rootKeyId = id.value;
    } else if (field === 3) {
      const opFields = readFields(data);
      if (!opFields.ok) return opFields;
      let entity = '';
      const actions: string[] = [];
      for (const f of opFields.value) {
        const value = text(f.data);
        if (!value.ok) return value;
        if (f.field === 1) entity = value.value;
        else if (f.field === 2) actions.push(value.value);
      }
      ops.push({ entity, actions });
    }
  }
  return ok({ nonce, rootKeyId, ops });
}
