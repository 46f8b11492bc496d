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

/** A usage error found after parsing (a missing or out-of-range flag): printed, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
