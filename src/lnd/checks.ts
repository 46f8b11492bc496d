/**
 * The checks a node must pass before lnmux intercepts its HTLCs: the right node, the right network,
 * an LND recent enough, the two flags lnmux's safety depends on, and a macaroon that grants every call
 * lnmux makes. `evaluateChecks` is the pure rule; `runChecks` asks the node (GetVersion, then GetInfo,
 * then CheckMacaroonPermissions per method) and applies it.
 */
import { status as Status, type Client } from '@grpc/grpc-js';
import { err, ok, type Result } from '../protocol/index.js';
import type { LndConnection } from './connection.js';
import {
  decodeGetInfo,
  decodeVersion,
  describeConvertError,
  type NodeInfo,
  type NodeVersion,
} from './convert.js';
import { classifyRpcError, type RpcFailure } from './rpc-error.js';
import { unary } from './unary.js';
import { parseLndVersion, type Release } from './version.js';

/**
 * The oldest LND release accepted in each release line. Both contain lightningnetwork/lnd#10895
 * (0.20.2 and 0.21.1 release notes, "Fixed on-chain forward interceptor settlement"): once the
 * incoming channel is force-closed, the held HTLC is re-offered to the interceptor and a SETTLE still
 * reaches the on-chain resolver. Without it, an HTLC that lnmux has decided to settle is lost if its
 * channel closes before the SETTLE lands, which breaks "once settled, always settled". (Replays under
 * `--requireinterceptor` exist since 0.15, final resolutions since 0.16; 0.21.0 lacks the fix.)
 * Releases in a newer line than the newest listed are accepted; older lines are refused.
 */
export const DEFAULT_MINIMUM_VERSIONS: readonly string[] = Object.freeze(['0.20.2', '0.21.1']);

/** What the node must be. */
export interface NodeExpectations {
  /** The node's identity key: 33-byte compressed pubkey, hex. */
  readonly pubkey: string;
  /** The network, as LND names it in GetInfo `chains[0].network` ('mainnet', 'testnet', 'regtest', ...). */
  readonly network: string;
  /** Per release line, the oldest release accepted ('0.21.1'); see {@link DEFAULT_MINIMUM_VERSIONS}. */
  readonly minimumVersions?: readonly string[];
}

/** Why a node is refused; each names its check. */
export type CheckRefusal =
  | { readonly kind: 'versionTooOld'; readonly version: string; readonly minimum: string }
  | { readonly kind: 'pubkeyMismatch'; readonly configured: string; readonly reported: string }
  | { readonly kind: 'networkMismatch'; readonly configured: string; readonly reported: string }
  /** GetInfo `require_htlc_interceptor` is false: LND runs without `--requireinterceptor`. */
  | { readonly kind: 'interceptorNotRequired' }
  /** GetInfo `store_final_htlc_resolutions` is false: LND runs without `--store-final-htlc-resolutions`. */
  | { readonly kind: 'finalResolutionsNotStored' }
  /** The node refused our macaroon (wrong node, wrong macaroon, or missing permissions). */
  | { readonly kind: 'unauthenticated'; readonly method: string; readonly details: string }
  /**
   * The node accepts the macaroon but it does not grant calls lnmux makes (CheckMacaroonPermissions);
   * `methods` are LND's full method names, e.g. '/routerrpc.Router/HtlcInterceptor'.
   */
  | { readonly kind: 'macaroonLacksPermission'; readonly methods: readonly [string, ...string[]]; readonly details: string }
  /** The node's answer could not be read. */
  | { readonly kind: 'malformedResponse'; readonly method: string; readonly details: string };

/** The outcome of asking a node. A refusal is kept apart from a node we could not reach. */
export type CheckOutcome =
  | {
      readonly kind: 'passed';
      readonly info: NodeInfo;
      readonly version: NodeVersion;
      /**
       * 'granted': the node said the macaroon grants every call lnmux makes. 'notChecked': the node would
       * not say (CheckMacaroonPermissions needs `macaroon:read`, which a macaroon baked for lnmux may
       * lack): a missing permission then shows when the stream that needs it opens.
       */
      readonly permissions: 'granted' | 'notChecked';
    }
  | { readonly kind: 'refused'; readonly reasons: readonly [CheckRefusal, ...CheckRefusal[]] }
  /** The node did not answer (unreachable, timeout, ...): retry later, nothing is known about it. */
  | { readonly kind: 'rpcFailed'; readonly method: string; readonly failure: RpcFailure };

/**
 * Parses 'major.minor.patch' (a floor is a release, so no pre-release tag). Throws RangeError naming
 * the value otherwise (a config error).
 */
export function parseRelease(value: string): Release {
  const v = parseLndVersion(value.trim());
  if (v === undefined || v.preRelease !== '') throw new RangeError(`minimumVersions: expected 'major.minor.patch', got '${value}'`);
  return { major: v.major, minor: v.minor, patch: v.patch };
}

function releaseString(r: Release): string {
  return `${r.major}.${r.minor}.${r.patch}`;
}

function compareLine(a: Release, b: Release): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/**
 * Whether `version` is at least the floor of its release line (see {@link DEFAULT_MINIMUM_VERSIONS}).
 * A release candidate of the floor release ('0.21.1-beta.rc1') is refused: it precedes the release.
 * Returns the floor it was held to, for the refusal message.
 */
export function versionAccepted(
  version: NodeVersion,
  minimumVersions: readonly string[],
): { readonly accepted: boolean; readonly minimum: string } {
  const floors = minimumVersions.map(parseRelease).sort((a, b) => compareLine(a, b) || a.patch - b.patch);
  if (floors.length === 0) return { accepted: true, minimum: 'none' };
  const newest = floors[floors.length - 1]!;
  const floor = floors.find((f) => compareLine(f, version) === 0);
  if (!floor) {
    return { accepted: compareLine(version, newest) > 0, minimum: releaseString(newest) };
  }
  const finalRelease = version.preRelease === '' || version.preRelease === 'beta';
  const accepted = version.patch > floor.patch || (version.patch === floor.patch && finalRelease);
  return { accepted, minimum: releaseString(floor) };
}

/** Applies every check to what the node reported; returns all refusals, in check order. */
export function evaluateChecks(
  version: NodeVersion,
  info: NodeInfo,
  expected: NodeExpectations,
): CheckRefusal[] {
  const refusals: CheckRefusal[] = [];
  const verdict = versionAccepted(version, expected.minimumVersions ?? DEFAULT_MINIMUM_VERSIONS);
  if (!verdict.accepted) {
    const shown = `${version.major}.${version.minor}.${version.patch}${version.preRelease ? `-${version.preRelease}` : ''}`;
    refusals.push({ kind: 'versionTooOld', version: shown, minimum: verdict.minimum });
  }
  const configured = expected.pubkey.toLowerCase();
  if (info.identityPubkey !== configured) {
    refusals.push({ kind: 'pubkeyMismatch', configured, reported: info.identityPubkey });
  }
  if (info.network !== expected.network) {
    refusals.push({ kind: 'networkMismatch', configured: expected.network, reported: info.network });
  }
  if (!info.requireHtlcInterceptor) refusals.push({ kind: 'interceptorNotRequired' });
  if (!info.storeFinalHtlcResolutions) refusals.push({ kind: 'finalResolutionsNotStored' });
  return refusals;
}

/** One line naming the check and what was found, for logs and errors. */
export function describeRefusal(reason: CheckRefusal): string {
  switch (reason.kind) {
    case 'versionTooOld':
      return `version check: LND ${reason.version} is older than the minimum ${reason.minimum} of its release line`;
    case 'pubkeyMismatch':
      return `identity check: the node's pubkey is ${reason.reported}, the configured pubkey is ${reason.configured}`;
    case 'networkMismatch':
      return `network check: the node is on '${reason.reported}', the configured network is '${reason.configured}'`;
    case 'interceptorNotRequired':
      return 'interceptor check: LND must run with --requireinterceptor (GetInfo require_htlc_interceptor is false)';
    case 'finalResolutionsNotStored':
      return 'final resolution check: LND must run with --store-final-htlc-resolutions (GetInfo store_final_htlc_resolutions is false)';
    case 'unauthenticated':
      return `macaroon check: ${reason.method} refused the macaroon: ${reason.details}`;
    case 'macaroonLacksPermission':
      return (
        `macaroon check: the macaroon does not grant ${reason.methods.join(', ')} (LND: ${reason.details}); ` +
        `use admin.macaroon or bake one with ${LNMUX_PERMISSIONS.join(' ')}`
      );
    case 'malformedResponse':
      return `response check: ${reason.method} answered something unreadable: ${reason.details}`;
    default: {
      const never: never = reason;
      return String(never);
    }
  }
}

/**
 * The calls lnmux makes besides GetVersion and GetInfo (which the checks themselves prove), by LND's full
 * method name, with the permission LND requires for each (v0.21.2-beta: rpcserver.go, router_server.go,
 * chain_server.go).
 */
export const LNMUX_STREAM_METHODS: readonly string[] = Object.freeze([
  '/routerrpc.Router/HtlcInterceptor', // offchain:write
  '/routerrpc.Router/SubscribeHtlcEvents', // offchain:read
  '/chainrpc.ChainNotifier/RegisterBlockEpochNtfn', // onchain:read
  '/lnrpc.Lightning/LookupHtlcResolution', // offchain:read
]);

/** Every permission lnmux's calls need, for `lncli bakemacaroon` (GetVersion and GetInfo: info:read). */
export const LNMUX_PERMISSIONS: readonly string[] = Object.freeze(['info:read', 'offchain:read', 'offchain:write', 'onchain:read']);

/**
 * Asks the node (GetVersion, then GetInfo, then CheckMacaroonPermissions for each of
 * {@link LNMUX_STREAM_METHODS}, each call with `timeoutMs`; `signal` cancels them) and applies
 * {@link evaluateChecks}. Never throws: an unreachable node is `rpcFailed`, a refused macaroon is a refusal.
 */
export async function runChecks(
  connection: LndConnection,
  expected: NodeExpectations,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<CheckOutcome> {
  const versionReply = await ask(connection.versioner, 'GetVersion', timeoutMs, signal);
  if (versionReply.kind !== 'answer') return versionReply;
  const version = decodeVersion(versionReply.value);
  if (!version.ok) {
    return refused({ kind: 'malformedResponse', method: 'GetVersion', details: describeConvertError(version.error) });
  }
  const infoReply = await ask(connection.lightning, 'GetInfo', timeoutMs, signal);
  if (infoReply.kind !== 'answer') return infoReply;
  const info = decodeGetInfo(infoReply.value);
  if (!info.ok) {
    return refused({ kind: 'malformedResponse', method: 'GetInfo', details: describeConvertError(info.error) });
  }
  const reasons = evaluateChecks(version.value, info.value, expected);
  const [first, ...rest] = reasons;
  if (first) return { kind: 'refused', reasons: [first, ...rest] };
  const permissions = await checkPermissions(connection, timeoutMs, signal);
  if (permissions.kind !== 'granted' && permissions.kind !== 'notChecked') return permissions;
  return { kind: 'passed', info: info.value, version: version.value, permissions: permissions.kind };
}

/**
 * Asks the node whether our macaroon grants each of {@link LNMUX_STREAM_METHODS}, with the method's own
 * permissions (`check_default_perms_from_full_method`). LND answers a macaroon that lacks them with
 * InvalidArgument ("permission denied"); a call refused outright (status UNKNOWN "permission denied": the
 * macaroon lacks `macaroon:read`, which CheckMacaroonPermissions needs) or not served (UNIMPLEMENTED) means
 * the node will not say: 'notChecked'.
 */
async function checkPermissions(
  connection: LndConnection,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ readonly kind: 'granted' } | { readonly kind: 'notChecked' } | Extract<CheckOutcome, { kind: 'refused' | 'rpcFailed' }>> {
  const method = 'CheckMacaroonPermissions';
  const replies = await Promise.all(
    LNMUX_STREAM_METHODS.map(async (fullMethod) => {
      const request = { macaroon: Buffer.from(connection.macaroon), fullMethod, check_default_perms_from_full_method: true };
      const reply: Result<unknown, unknown> = await unary(connection.lightning, method, request, timeoutMs, signal).then(ok, err);
      return { fullMethod, reply };
    }),
  );
  const lacking: string[] = [];
  let details = '';
  for (const { fullMethod, reply } of replies) {
    if (reply.ok) continue;
    const failure = classifyRpcError(reply.error);
    if (failure.code === Status.INVALID_ARGUMENT) {
      lacking.push(fullMethod);
      details = failure.details;
    } else if (failure.kind === 'unauthenticated' || failure.code === Status.UNIMPLEMENTED) {
      return { kind: 'notChecked' };
    } else {
      return { kind: 'rpcFailed', method, failure };
    }
  }
  const [first, ...rest] = lacking;
  if (first === undefined) return { kind: 'granted' };
  return refused({ kind: 'macaroonLacksPermission', methods: [first, ...rest], details }) as Extract<CheckOutcome, { kind: 'refused' }>;
}

function refused(reason: CheckRefusal): CheckOutcome {
  return { kind: 'refused', reasons: [reason] };
}

async function ask(
  client: Client,
  method: 'GetVersion' | 'GetInfo',
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ readonly kind: 'answer'; readonly value: unknown } | Extract<CheckOutcome, { kind: 'refused' | 'rpcFailed' }>> {
  const reply: Result<unknown, unknown> = await unary(client, method, {}, timeoutMs, signal).then(ok, err);
  if (reply.ok) return { kind: 'answer', value: reply.value };
  const failure = classifyRpcError(reply.error);
  if (failure.kind === 'unauthenticated') {
    return refused({ kind: 'unauthenticated', method, details: failure.details }) as Extract<CheckOutcome, { kind: 'refused' }>;
  }
  return { kind: 'rpcFailed', method, failure };
}
