/**
 * Macaroons as an LND node mints and checks them: binary version 2 macaroons whose identifier is a
 * bakery v3 identifier (root key id "0" and the permissions), minted and verified by src/credentials
 * (over the `macaroon` package, go-macaroon's format). A correctly signed macaroon grants the
 * permissions its identifier lists (lnd-server.ts holds LND's table of what each call needs); the rest
 * is refused with the status and message LND gives: LND's macaroon checks return plain Go errors,
 * which gRPC turns into status UNKNOWN with the error's text. This file keeps only that wire
 * behaviour: Go's hex errors, and go-macaroon's parse errors in place of the library's.
 */
import { randomBytes } from 'node:crypto';
import { mintMacaroon as mintBakeryMacaroon, verifyMacaroon as verifyBakeryMacaroon, type MacaroonOp, type MacaroonRefusal } from '../credentials/index.js';
import { err, ok, type Result } from '../protocol/index.js';

/** A node's macaroon secret: the root key (32 bytes) that signs and verifies. */
export interface MacaroonKey {
  readonly rootKey: Uint8Array;
}

/** Creates a fresh root key. */
export function newMacaroonKey(random: (n: number) => Uint8Array = randomBytes): MacaroonKey {
  return { rootKey: random(32) };
}

/** The permissions of LND's admin.macaroon. */
export const ADMIN_PERMISSIONS: readonly MacaroonOp[] = [
  { entity: 'address', actions: ['read', 'write'] },
  { entity: 'info', actions: ['read', 'write'] },
  { entity: 'invoices', actions: ['read', 'write'] },
  { entity: 'macaroon', actions: ['generate', 'read', 'write'] },
  { entity: 'message', actions: ['read', 'write'] },
  { entity: 'offchain', actions: ['read', 'write'] },
  { entity: 'onchain', actions: ['read', 'write'] },
  { entity: 'peers', actions: ['read', 'write'] },
  { entity: 'signer', actions: ['generate', 'read'] },
];

/** The permissions of LND's readonly.macaroon (`readPermissions` in lnd.go): every entity, read only. */
export const READONLY_PERMISSIONS: readonly MacaroonOp[] = ADMIN_PERMISSIONS.map(({ entity }) => ({ entity, actions: ['read'] }));

/**
 * Mints a macaroon granting `permissions` (binary V2, location "lnd") signed with `key`, as LND mints
 * its default macaroons and `lncli bakemacaroon` bakes others. Clients send it hex-encoded in the
 * `macaroon` metadata.
 */
export function mintMacaroon(key: MacaroonKey, permissions: readonly MacaroonOp[], random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  return mintBakeryMacaroon(key.rootKey, { location: 'lnd', ops: permissions, random });
}

/** Mints an admin macaroon signed with `key`: the bytes LND writes to admin.macaroon. */
export function mintAdminMacaroon(key: MacaroonKey, random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  return mintMacaroon(key, ADMIN_PERMISSIONS, random);
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
 * go-macaroon's text for a macaroon the library could not parse (macaroon.UnmarshalBinary). The common
 * cases are exact (empty, not V2, truncated); for the rare ones (fields of an unexpected type) the
 * library does not say which section failed, and the text is the closest go-macaroon has.
 */
function goParseError(message: string): string {
  if (message === 'Empty macaroon data') return 'empty macaroon data';
  // Version 1 macaroons are not minted by LND; report them as go-macaroon would fail to read them.
  if (message === 'Version 1 binary format not supported') return 'unmarshal v1: packet size too big';
  if (message === 'Cannot determine data format of binary-encoded macaroon') return 'cannot determine data format of binary-encoded macaroon';
  if (message === 'Read past end of buffer') return 'unmarshal v2: field data extends past end of buffer';
  if (message === 'Buffer too small decoding varint') return 'unmarshal v2: varint value extends past end of buffer';
  if (message === 'Overflow error decoding varint') return 'unmarshal v2: varint value out of range';
  if (message.startsWith('Unexpected field type') && message.endsWith('want 6')) return 'unmarshal v2: unexpected field found instead of signature';
  if (message.startsWith('Unexpected field type')) return 'unmarshal v2: invalid macaroon header';
  if (/extra data/.test(message)) return 'unmarshal v2: unexpected extra data at end of macaroon';
  return `unmarshal v2: ${message}`;
}

/** LND's text for each refusal (macaroons/service.go, bakery). */
function lndMessage(refusal: MacaroonRefusal): string {
  switch (refusal.kind) {
    case 'malformed':
      return goParseError(refusal.message);
    case 'invalidId':
      return refusal.message === 'invalid ID' ? 'invalid ID' : `verification failed: ${refusal.message}`;
    case 'unknownRootKey':
      return `cannot get macaroon: root key with id ${refusal.rootKeyId} doesn't exist`;
    case 'signatureMismatch':
      return 'verification failed: signature mismatch after caveat verification';
    case 'caveatRefused':
      return `verification failed: ${refusal.message}`;
  }
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
  const verified = verifyBakeryMacaroon(key.rootKey, bytes);
  if (!verified.ok) return err(lndMessage(verified.error));
  return ok(new Set(verified.value.id.ops.flatMap(({ entity, actions }) => actions.map((action) => `${entity}:${action}`))));
}
