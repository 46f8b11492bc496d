/** Flag parsers: each throws commander's InvalidArgumentError, which names the flag in its message. */
import { InvalidArgumentError } from 'commander';

export function positiveInteger(value: string): bigint {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return BigInt(value);
}

export function hex32(value: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError(`expected 32 bytes as 64 hex characters, got ${JSON.stringify(value)}`);
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

/** Bytes given as hex: 1 to 639 of them (a BOLT 11 field's most), e.g. an invoice's metadata. */
export function hexBytes(value: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2}){1,639}$/.test(value)) {
    throw new InvalidArgumentError(`expected 1 to 639 bytes as an even number of hex characters, got ${JSON.stringify(value)}`);
  }
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

/** A usage error found after parsing (a missing or out-of-range flag): printed, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
