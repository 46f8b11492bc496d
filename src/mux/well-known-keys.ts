/**
 * Identity keys anyone can know: the smallest private keys, and the keys printed in lnmux's docs, README,
 * example config and tests (test/mux/config.test.ts greps those for identity keys and asserts each is
 * here, so that the list cannot go stale). A virtual node with such a key can be impersonated, its
 * onions read, its payments taken: refused on mainnet, warned about elsewhere (src/mux/config.ts).
 */
const WELL_KNOWN_KEYS: ReadonlySet<string> = new Set([
  // Private keys 1 and 2 (multiplexer.yml.example carried key 1 until lnmux init).
  '0000000000000000000000000000000000000000000000000000000000000001',
  '0000000000000000000000000000000000000000000000000000000000000002',
  // The BOLT 11 test vectors' private key (test/protocol/bolt11-vectors.ts).
  'e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734',
  // The Go lnmux fixture's identity key (test/vectors/go-lnmux/invoices.json).
  'cbccbcb0f6d76a9fb736ecc0ec0c83cf90f753b7f6f1a541071b48c717bea9a4',
]);

/**
 * Whether a 32-byte identity key is well known: in the list above, or one byte repeated 32 times (the
 * tests' keys, `'11'.repeat(32)`, `'42'.repeat(32)`, ..., and the BOLT 4 vectors' 0x41 session key).
 */
export function isWellKnownIdentityKey(key: Uint8Array): boolean {
  if (key.length === 32 && key.every((b) => b === key[0])) return true;
  return WELL_KNOWN_KEYS.has(Buffer.from(key).toString('hex'));
}
