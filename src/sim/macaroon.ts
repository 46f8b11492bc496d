/**
 * Macaroons as an LND node mints and checks them: binary version 2 macaroons (go-macaroon's V2
 * format) whose identifier is a bakery v3 identifier (byte 3, then a protobuf with a nonce, the root
 * key id "0" and the permissions), signed with HMAC-SHA256 chained from a random root key. The
 * simulator grants every permission to a correctly signed macaroon (like admin.macaroon) and refuses
 * the rest with the status and message LND gives: LND's macaroon checks return plain Go errors, which
 * gRPC turns into status UNKNOWN with the error's text.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { equalBytes, err, ok, type Result } from '../protocol/index.js';

/** The root key id LND uses for its default macaroons (`macaroons.DefaultRootKeyID`). */
const ROOT_KEY_ID = Buffer.from('0');
/** bakery.Version3: the first byte of every identifier LND accepts. */
const BAKERY_VERSION_3 = 3;
const FIELD_EOS = 0;
const FIELD_LOCATION = 1;
const FIELD_IDENTIFIER = 2;
const FIELD_VERIFICATION_ID = 4;
const FIELD_SIGNATURE = 6;

/** A node's macaroon secret: the root key (32 bytes) that signs and verifies. */
export interface MacaroonKey {
  readonly rootKey: Uint8Array;
}

/** Creates a fresh root key. */
export function newMacaroonKey(random: (n: number) => Uint8Array = randomBytes): MacaroonKey {
  return { rootKey: random(32) };
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(data).digest();
}

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

function packet(type: number, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(uvarint(type)), Buffer.from(uvarint(data.length)), data]);
}

function protoBytesField(field: number, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(uvarint((field << 3) | 2)), Buffer.from(uvarint(data.length)), data]);
}

/** The permissions of LND's admin.macaroon, as (entity, actions). */
const ADMIN_PERMISSIONS: readonly (readonly [string, readonly string[]])[] = [
  ['address', ['read', 'write']],
  ['info', ['read', 'write']],
  ['invoices', ['read', 'write']],
  ['macaroon', ['generate', 'read', 'write']],
  ['message', ['read', 'write']],
  ['offchain', ['read', 'write']],
  ['onchain', ['read', 'write']],
  ['peers', ['read', 'write']],
  ['signer', ['generate', 'read']],
];

function adminIdentifier(nonce: Uint8Array): Buffer {
  const ops = ADMIN_PERMISSIONS.map(([entity, actions]) =>
    protoBytesField(3, Buffer.concat([protoBytesField(1, Buffer.from(entity)), ...actions.map((a) => protoBytesField(2, Buffer.from(a)))])),
  );
  return Buffer.concat([Buffer.from([BAKERY_VERSION_3]), protoBytesField(1, nonce), protoBytesField(2, ROOT_KEY_ID), ...ops]);
}

/**
 * Mints an admin macaroon (binary V2, location "lnd") signed with `key`: the bytes LND writes to
 * admin.macaroon. Clients send it hex-encoded in the `macaroon` metadata.
 */
export function mintAdminMacaroon(key: MacaroonKey, random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  const id = adminIdentifier(random(24));
  const signature = hmac(hmac(Buffer.from('macaroons-key-generator'), key.rootKey), id);
  return Buffer.concat([
    Buffer.from([2]),
    packet(FIELD_LOCATION, Buffer.from('lnd')),
    packet(FIELD_IDENTIFIER, id),
    Buffer.from([FIELD_EOS]),
    Buffer.from([FIELD_EOS]),
    packet(FIELD_SIGNATURE, signature),
  ]);
}

interface ParsedMacaroon {
  readonly id: Uint8Array;
  readonly caveatIds: readonly Uint8Array[];
  readonly signature: Uint8Array;
}

type Cursor = { bytes: Uint8Array; at: number };

function readVarint(c: Cursor): Result<number, string> {
  let value = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (c.at >= c.bytes.length) return err('varint value extends past end of buffer');
    const b = c.bytes[c.at++] as number;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return value > 0x7fffffff ? err('varint value out of range') : ok(value);
    shift += 7;
  }
  return err('varint value out of range');
}

function readPacket(c: Cursor): Result<{ type: number; data: Uint8Array }, string> {
  const type = readVarint(c);
  if (!type.ok) return type;
  if (type.value === FIELD_EOS) return ok({ type: FIELD_EOS, data: new Uint8Array(0) });
  const length = readVarint(c);
  if (!length.ok) return length;
  if (length.value > c.bytes.length - c.at) return err('field data extends past end of buffer');
  const data = c.bytes.subarray(c.at, c.at + length.value);
  c.at += length.value;
  return ok({ type: type.value, data });
}

function readSection(c: Cursor): Result<{ type: number; data: Uint8Array }[], string> {
  const fields: { type: number; data: Uint8Array }[] = [];
  let previous = -1;
  for (;;) {
    if (c.at >= c.bytes.length) return err('section extends past end of buffer');
    const p = readPacket(c);
    if (!p.ok) return p;
    if (p.value.type === FIELD_EOS) return ok(fields);
    if (p.value.type <= previous) return err('fields out of order');
    previous = p.value.type;
    fields.push(p.value);
  }
}

/** Parses a binary V2 macaroon; errors carry go-macaroon's messages. */
function parseMacaroon(bytes: Uint8Array): Result<ParsedMacaroon, string> {
  if (bytes.length === 0) return err('empty macaroon data');
  const first = bytes[0] as number;
  if (first !== 2) {
    const hexDigit = (first >= 0x30 && first <= 0x39) || (first >= 0x61 && first <= 0x66) || (first >= 0x41 && first <= 0x46);
    // Version 1 macaroons are not minted by LND; report them as go-macaroon would fail to read them.
    return err(hexDigit ? 'unmarshal v1: packet size too big' : 'cannot determine data format of binary-encoded macaroon');
  }
  const c: Cursor = { bytes, at: 1 };
  const v2 = (message: string): Result<never, string> => err(`unmarshal v2: ${message}`);
  const header = readSection(c);
  if (!header.ok) return v2(header.error);
  let fields = header.value;
  if (fields[0]?.type === FIELD_LOCATION) fields = fields.slice(1);
  if (fields.length !== 1 || fields[0]?.type !== FIELD_IDENTIFIER) return v2('invalid macaroon header');
  const id = fields[0].data;
  const caveatIds: Uint8Array[] = [];
  for (;;) {
    const section = readSection(c);
    if (!section.ok) return v2(section.error);
    let cav = section.value;
    if (cav.length === 0) break;
    const location = cav[0]?.type === FIELD_LOCATION;
    if (location) cav = cav.slice(1);
    if (cav[0]?.type !== FIELD_IDENTIFIER) return v2('no identifier in caveat');
    caveatIds.push(cav[0].data);
    cav = cav.slice(1);
    if (cav.length === 0) {
      if (location) return v2('location not allowed in first party caveat');
      continue;
    }
    if (cav.length !== 1) return v2('extra fields found in caveat');
    if (cav[0]?.type !== FIELD_VERIFICATION_ID) return v2('invalid field found in caveat');
  }
  const sig = readPacket(c);
  if (!sig.ok) return v2(sig.error);
  if (sig.value.type !== FIELD_SIGNATURE) return v2('unexpected field found instead of signature');
  if (sig.value.data.length !== 32) return v2('signature has unexpected length');
  return ok({ id, caveatIds, signature: sig.value.data });
}

/** Reads the storage (root key) id, field 2 of the bakery identifier's protobuf. */
function storageIdOf(id: Uint8Array): Result<Uint8Array, string> {
  const c: Cursor = { bytes: id, at: 1 };
  let storageId: Uint8Array = new Uint8Array(0);
  while (c.at < id.length) {
    const key = readVarint(c);
    if (!key.ok) return err(key.error);
    const wire = key.value & 7;
    if (wire === 0) {
      const v = readVarint(c);
      if (!v.ok) return err(v.error);
    } else if (wire === 2) {
      const length = readVarint(c);
      if (!length.ok || length.value > id.length - c.at) return err('truncated field');
      if (key.value >>> 3 === 2) storageId = id.subarray(c.at, c.at + length.value);
      c.at += length.value;
    } else {
      return err(`unsupported wire type ${wire}`);
    }
  }
  return ok(storageId);
}

/** Go's encoding/hex.DecodeString, with its error messages. */
function decodeGoHex(text: string): Result<Uint8Array, string> {
  const valid = (ch: string): boolean => /^[0-9a-fA-F]$/.test(ch);
  const invalid = (ch: string): string => {
    const code = ch.codePointAt(0) ?? 0;
    return `encoding/hex: invalid byte: U+${code.toString(16).toUpperCase().padStart(4, '0')} ${JSON.stringify(ch).replace(/^"|"$/g, "'")}`;
  };
  const chars = [...text];
  for (let i = 0; i + 1 < chars.length; i += 2) {
    for (const ch of [chars[i] as string, chars[i + 1] as string]) if (!valid(ch)) return err(invalid(ch));
  }
  if (chars.length % 2 === 1) {
    const last = chars[chars.length - 1] as string;
    return err(valid(last) ? 'encoding/hex: odd length hex string' : invalid(last));
  }
  return ok(Buffer.from(text, 'hex'));
}

/**
 * Checks the `macaroon` metadata values of a call against `key`, as LND's macaroon service does
 * (rpcperms + macaroons/service.go). Returns ok or the error text LND would send (status UNKNOWN):
 * "expected 1 macaroon, got N", Go's hex errors, go-macaroon's parse errors, "invalid ID",
 * "cannot get macaroon: root key with id … doesn't exist" and
 * "verification failed: signature mismatch after caveat verification".
 */
export function checkMacaroon(key: MacaroonKey, metadataValues: readonly (string | Buffer)[]): Result<void, string> {
  if (metadataValues.length !== 1) return err(`expected 1 macaroon, got ${metadataValues.length}`);
  const raw = metadataValues[0];
  const text = typeof raw === 'string' ? raw : (raw as Buffer).toString('utf8');
  const bytes = decodeGoHex(text);
  if (!bytes.ok) return bytes;
  const mac = parseMacaroon(bytes.value);
  if (!mac.ok) return mac;
  if (mac.value.id.length < 1 || mac.value.id[0] !== BAKERY_VERSION_3) return err('invalid ID');
  const storageId = storageIdOf(mac.value.id);
  if (!storageId.ok) return err(`verification failed: cannot unmarshal macaroon id: ${storageId.error}`);
  if (!equalBytes(storageId.value, ROOT_KEY_ID)) {
    return err(`cannot get macaroon: root key with id ${Buffer.from(storageId.value).toString('utf8')} doesn't exist`);
  }
  let signature = hmac(hmac(Buffer.from('macaroons-key-generator'), key.rootKey), mac.value.id);
  for (const caveatId of mac.value.caveatIds) signature = hmac(signature, caveatId);
  if (!equalBytes(signature, mac.value.signature)) return err('verification failed: signature mismatch after caveat verification');
  return ok(undefined);
}
