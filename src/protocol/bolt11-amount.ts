/**
 * The human-readable part of a BOLT 11 invoice ("Human-Readable Part"): `ln`, the currency prefix,
 * and an optional amount in bitcoin with a multiplier (m, u, n, p). Amounts are millisatoshi bigints.
 */
import { err, ok, type Result } from './result.js';
import type { Bolt11Error, Network } from './bolt11-types.js';

/** Currency prefixes understood, longest first so that `tbs` wins over `tb` and `bcrt` over `bc`. */
const NETWORKS: readonly Network[] = ['bcrt', 'tbs', 'bc', 'tb', 'sb'];

/** Millisatoshi per unit of each multiplier; the `p` multiplier is handled apart (0.1 msat). */
const MSAT_PER_UNIT = { '': 100_000_000_000n, m: 100_000_000n, u: 100_000n, n: 100n } as const;

const MAX_MSAT = 0xffff_ffff_ffff_ffffn;

/** The network and amount read from a human-readable part. */
export interface HumanReadablePart {
  readonly network: Network;
  readonly amountMsat?: bigint;
}

/**
 * Parses a lower-case human-readable part such as `lnbc2500u` (BOLT 11 "Human-Readable Part",
 * reader requirements): unknown prefix, non-digit amount, unknown multiplier and `p` amounts not
 * ending in 0 fail. Also rejected: leading zeros, a zero amount, amounts of 2^64 msat or more.
 */
export function parseHumanReadablePart(hrp: string): Result<HumanReadablePart, Bolt11Error> {
  if (!hrp.startsWith('ln')) return err({ kind: 'unknownPrefix', prefix: hrp });
  const rest = hrp.slice(2);
  const network = NETWORKS.find((n) => rest.startsWith(n) && !/^[a-z]/.test(rest.slice(n.length)));
  if (network === undefined) return err({ kind: 'unknownPrefix', prefix: hrp });
  const amount = rest.slice(network.length);
  if (amount === '') return ok({ network });
  const parsed = parseAmount(amount);
  return parsed.ok ? ok({ network, amountMsat: parsed.value }) : parsed;
}

/** Reads an amount with its optional multiplier (`2500u`, `9678785340p`) as millisatoshi. */
export function parseAmount(amount: string): Result<bigint, Bolt11Error> {
  const match = /^([1-9][0-9]*)([munp]?)$/.exec(amount);
  if (match === null) return err({ kind: 'invalidAmount', amount });
  const digits = BigInt(match[1] as string);
  const multiplier = match[2] as '' | 'm' | 'u' | 'n' | 'p';
  let msat: bigint;
  if (multiplier === 'p') {
    if (digits % 10n !== 0n) return err({ kind: 'subMillisatoshiAmount', amount });
    msat = digits / 10n;
  } else {
    msat = digits * MSAT_PER_UNIT[multiplier];
  }
  if (msat > MAX_MSAT) return err({ kind: 'invalidAmount', amount });
  return ok(msat);
}

/**
 * Writes `amountMsat` in the shortest form, with the largest multiplier that divides it exactly
 * (BOLT 11 writer: "SHOULD use the shortest representation possible"). `p` amounts end in 0.
 * Throws RangeError unless 1 <= amountMsat < 2^64.
 */
export function formatAmount(amountMsat: bigint): string {
  if (amountMsat < 1n || amountMsat > MAX_MSAT) throw new RangeError(`amountMsat out of range: ${amountMsat}`);
  for (const multiplier of ['', 'm', 'u', 'n'] as const) {
    const unit = MSAT_PER_UNIT[multiplier];
    if (amountMsat % unit === 0n) return `${amountMsat / unit}${multiplier}`;
  }
  return `${amountMsat * 10n}p`;
}

/** Writes the human-readable part: `ln`, the network prefix, and the amount if any. */
export function formatHumanReadablePart(network: Network, amountMsat?: bigint): string {
  if (!NETWORKS.includes(network)) throw new RangeError(`unknown network: ${String(network)}`);
  return `ln${network}${amountMsat === undefined ? '' : formatAmount(amountMsat)}`;
}
