/**
 * Macaroons as an LND node mints and checks them: binary version 2 macaroons (go-macaroon's V2
 * format) whose identifier is a bakery v3 identifier (byte 3, then a protobuf with a nonce, the root
 * key id "0" and the permissions), signed with HMAC-SHA256 chained from a random root key. A correctly
 * signed macaroon grants the permissions its identifier lists (lnd-server.ts holds LND's table of what
 * each call needs); the rest is refused with the status and message LND gives: LND's macaroon checks
 * return plain Go errors, which gRPC turns into status UNKNOWN with the error's text.
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

/** Permissions as (entity, actions), as a bakery identifier lists them. */
export type MacaroonPermissions = readonly (readonly [string, readonly string[]])[];

/** The permissions of LND's admin.macaroon. */
export const ADMIN_PERMISSIONS: MacaroonPermissions = [
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

/** The permissions of LND's readonly.macaroon (`readPermissions` in lnd.go): every entity, read only. */
export const READONLY_PERMISSIONS: MacaroonPermissions = ['address', 'info', 'invoices', 'macaroon', 'message', 'offchain', 'onchain', 'peers', 'signer'].map(
  (entity) => [entity, ['read']] as const,
);

function identifier(nonce: Uint8Array, permissions: MacaroonPermissions): Buffer {
  const ops = permissions.map(([entity, actions]) =>
    protoBytesField(3, Buffer.concat([protoBytesField(1, Buffer.from(entity)), ...actions.map((a) => protoBytesField(2, Buffer.from(a)))])),
  );
  return Buffer.concat([Buffer.from([BAKERY_VERSION_3]), protoBytesField(1, nonce), protoBytesField(2, ROOT_KEY_ID), ...ops]);
}

/**
 * Mints a macaroon granting `permissions` (binary V2, location "lnd") signed with `key`, as LND mints
 * its default macaroons and `lncli bakemacaroon` bakes others. Clients send it hex-encoded in the
 * `macaroon` metadata.
 */
export function mintMacaroon(key: MacaroonKey, permissions: MacaroonPermissions, random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  const id = identifier(random(24), permissions);
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

/** Mints an admin macaroon signed with `key`: the bytes LND writes to admin.macaroon. */
export function mintAdminMacaroon(key: MacaroonKey, random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  return mintMacaroon(key, ADMIN_PERMISSIONS, random);
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

/** Reads a protobuf message's length-delimited fields (field number, bytes); varints are skipped. */
function protoFields(bytes: Uint8Array, from: number): Result<{ field: number; data: Uint8Array }[], string> {
  const c: Cursor = { bytes, at: from };
  const fields: { field: number; data: Uint8Array }[] = [];
  while (c.at < bytes.length) {
    const key = readVarint(c);
    if (!key.ok) return err(key.error);
    const wire = key.value & 7;
    if (wire === 0) {
      const v = readVarint(c);
      if (!v.ok) return err(v.error);
    } else if (wire === 2) {
      const length = readVarint(c);
      if (!length.ok || length.value > bytes.length - c.at) return err('truncated field');
      fields.push({ field: key.value >>> 3, data: bytes.subarray(c.at, c.at + length.value) });
      c.at += length.value;
    } else {
      return err(`unsupported wire type ${wire}`);
    }
  }
  return ok(fields);
}

/**
 * Reads the bakery identifier's protobuf: the storage (root key) id, field 2, and the permissions, field 3
 * (each an op: entity, field 1, and actions, field 2), as 'entity:action' strings.
 */
function readIdentifier(id: Uint8Array): Result<{ storageId: Uint8Array; permissions: ReadonlySet<string> }, string> {
  const fields = protoFields(id, 1);
  if (!fields.ok) return fields;
  let storageId: Uint8Array = new Uint8Array(0);
  const permissions = new Set<string>();
  for (const { field, data } of fields.value) {
    if (field === 2) storageId = data;
    if (field !== 3) continue;
    const op = protoFields(data, 0);
    if (!op.ok) return op;
    const entity = op.value.find((f) => f.field === 1)?.data ?? new Uint8Array(0);
    for (const action of op.value.filter((f) => f.field === 2)) {
      permissions.add(`${Buffer.from(entity).toString('utf8')}:${Buffer.from(action.data).toString('utf8')}`);
    }
  }
  return ok({ storageId, permissions });
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
  const granted = authorizeCall(key, metadataValues);
  return granted.ok ? ok(undefined) : granted;
}

/** {@link checkMacaroon}, giving the permissions the macaroon grants ('entity:action') when it is valid. */
export function authorizeCall(key: MacaroonKey, metadataValues: readonly (string | Buffer)[]): Result<ReadonlySet<string>, string> {
  if (metadataValues.length !== 1) return err(`expected 1 macaroon, got ${metadataValues.length}`);
  const raw = metadataValues[0];
  const text = typeof raw === 'string' ? raw : (raw as Buffer).toString('utf8');
  const bytes = decodeGoHex(text);
  if (!bytes.ok) return bytes;
  return verifyMacaroon(key, bytes.value);
}

/**
 * Verifies a binary macaroon against `key` (what CheckMacaroonPermissions does with the bytes it is
 * given); ok with the permissions it grants ('entity:action'), or LND's error text.
 */
export function verifyMacaroon(key: MacaroonKey, bytes: Uint8Array): Result<ReadonlySet<string>, string> {
  const mac = parseMacaroon(bytes);
  if (!mac.ok) return mac;
  if (mac.value.id.length < 1 || mac.value.id[0] !== BAKERY_VERSION_3) return err('invalid ID');
  const id = readIdentifier(mac.value.id);
  if (!id.ok) return err(`verification failed: cannot unmarshal macaroon id: ${id.error}`);
  if (!equalBytes(id.value.storageId, ROOT_KEY_ID)) {
    return err(`cannot get macaroon: root key with id ${Buffer.from(id.value.storageId).toString('utf8')} doesn't exist`);
  }
  let signature = hmac(hmac(Buffer.from('macaroons-key-generator'), key.rootKey), mac.value.id);
  for (const caveatId of mac.value.caveatIds) signature = hmac(signature, caveatId);
  if (!equalBytes(signature, mac.value.signature)) return err('verification failed: signature mismatch after caveat verification');
  return ok(id.value.permissions);
}
