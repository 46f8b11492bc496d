/**
 * Every call's macaroon, checked before any handler runs (one grpc-js server interceptor, as LND's
 * rpcperms interceptor): the client sends the macaroon's bytes hex-encoded in the `macaroon` metadata,
 * as LND's clients do. No valid macaroon: UNAUTHENTICATED. A valid one without the method's permission
 * (src/api/permissions.ts): PERMISSION_DENIED. Health checking and reflection need none (PUBLIC_METHODS). The messages say what is wrong, never a secret. A check
 * costs about 100 us (the library chains HMACs in JavaScript, sjcl), measured here: no cache is needed.
 */
import * as grpc from '@grpc/grpc-js';
import { allows, checkTimeBefore, verifyMacaroon, type MacaroonRefusal } from '../credentials/index.js';
import { err, ok, type Result } from '../protocol/index.js';
import { METHOD_PERMISSIONS, PUBLIC_METHODS } from './permissions.js';

/** Why a call is refused. */
export interface AuthRefusal {
  readonly code: grpc.status.UNAUTHENTICATED | grpc.status.PERMISSION_DENIED;
  readonly message: string;
}

const MACAROON_HINT = 'send admin.macaroon, invoice.macaroon or readonly.macaroon, hex-encoded, in the `macaroon` metadata (docs/api.md)';

function unauthenticated(message: string): Result<never, AuthRefusal> {
  return err({ code: grpc.status.UNAUTHENTICATED, message });
}

function refusalText(refusal: MacaroonRefusal): string {
  switch (refusal.kind) {
    case 'malformed':
      return `not a macaroon (${refusal.message})`;
    case 'invalidId':
      return `not an lnmux macaroon: ${refusal.message}`;
    case 'unknownRootKey':
      return `signed with root key id ${JSON.stringify(refusal.rootKeyId)}, which this daemon does not have`;
    case 'signatureMismatch':
      return 'verification failed: signature mismatch (a macaroon of another daemon or root key, or an altered one)';
    case 'caveatRefused':
      return refusal.message;
  }
}

/**
 * Decides whether a call to `path` with these `macaroon` metadata values may run: pure, so the whole
 * policy is testable without a server. `now` judges `time-before` caveats; any other caveat is refused
 * (a caveat this daemon does not understand must not be ignored: it narrows the macaroon).
 */
export function authorize(rootKey: Uint8Array, path: string, metadataValues: readonly (string | Buffer)[], now: Date): Result<void, AuthRefusal> {
  if (PUBLIC_METHODS.has(path)) return ok(undefined);
  if (metadataValues.length === 0) return unauthenticated(`no macaroon: ${MACAROON_HINT}`);
  if (metadataValues.length > 1) return unauthenticated(`expected 1 macaroon, got ${metadataValues.length}`);
  const raw = metadataValues[0]!;
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) return unauthenticated(`macaroon: expected the macaroon's bytes as hex: ${MACAROON_HINT}`);
  const verified = verifyMacaroon(rootKey, Buffer.from(text, 'hex'), {
    checkCaveat: (condition) => {
      const timeBefore = checkTimeBefore(condition, now);
      if (timeBefore === undefined) return 'unknown caveat';
      return timeBefore.ok ? undefined : timeBefore.error;
    },
  });
  if (!verified.ok) return unauthenticated(`macaroon: ${refusalText(verified.error)}`);
  const needed = METHOD_PERMISSIONS[path];
  if (needed === undefined) return err({ code: grpc.status.PERMISSION_DENIED, message: `no permission is defined for ${path}: refused` });
  if (!allows(verified.value.id.ops, needed.entity, needed.action)) {
    return err({
      code: grpc.status.PERMISSION_DENIED,
      message: `macaroon lacks ${needed.entity}:${needed.action}, which ${path} needs (admin.macaroon has every permission; docs/api.md)`,
    });
  }
  return ok(undefined);
}

/** The interceptor: `authorize` on the call's metadata; a refused call ends with its status, unseen by the handler. */
export function macaroonInterceptor(rootKey: Uint8Array, now: () => Date = () => new Date()): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, proceed) => {
            const verdict = authorize(rootKey, method.path, metadata.get('macaroon'), now());
            if (verdict.ok) proceed(metadata);
            else call.sendStatus({ code: verdict.error.code, details: verdict.error.message, metadata: new grpc.Metadata() });
          },
        }),
    });
}
