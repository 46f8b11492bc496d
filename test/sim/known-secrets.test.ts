import { describe, expect, it } from 'vitest';
import { pointFromScalar } from 'tiny-secp256k1';
import { bytesToHex } from '../../src/protocol/bytes.js';
import { ecdhWithPrivateKey, type Ecdh } from '../../src/protocol/ecdh.js';
import { buildOnion } from '../../src/protocol/sphinx-build.js';
import { peelOnion } from '../../src/protocol/sphinx-peel.js';
import { KnownSharedSecrets } from '../../src/sim/known-secrets.js';

const nodeKey = new Uint8Array(32).fill(0x11);
const nextKey = new Uint8Array(32).fill(0x22);
const hash = new Uint8Array(32).fill(0x42);
const payload = Uint8Array.from(Buffer.from('0203989680' + '04030c3550' + '0608' + '0000010000010000', 'hex'));

function onion(sessionByte: number): { onion: Uint8Array; ephemeralKey: Uint8Array; secret: Uint8Array } {
  const built = buildOnion(
    [
      { publicKey: pointFromScalar(nodeKey, true)!, payload },
      { publicKey: pointFromScalar(nextKey, true)!, payload },
    ],
    new Uint8Array(32).fill(sessionByte),
    hash,
  );
  return { onion: built.onion, ephemeralKey: built.onion.subarray(1, 34), secret: built.sharedSecrets[0]! };
}

/** The node's own ECDH, counting its calls. */
function counting(): { ecdh: Ecdh; calls: () => number } {
  const own = ecdhWithPrivateKey(nodeKey);
  let calls = 0;
  return {
    ecdh: (p) => {
      calls++;
      return own(p);
    },
    calls: () => calls,
  };
}

describe('KnownSharedSecrets (a payer hands its first hop the secrets it computed)', () => {
  it('answers a known onion without the ECDH, once, and peels it exactly as the ECDH would', () => {
    const known = new KnownSharedSecrets();
    const { ecdh, calls } = counting();
    const wrapped = known.wrap(ecdh);
    const o = onion(0x33);
    known.add(o.ephemeralKey, o.secret);
    const shortcut = peelOnion(o.onion, hash, wrapped);
    expect(calls()).toBe(0);
    expect(known.size).toBe(0);
    const computed = peelOnion(o.onion, hash, ecdhWithPrivateKey(nodeKey));
    expect(shortcut.ok && computed.ok).toBe(true);
    if (shortcut.ok && computed.ok) {
      expect(bytesToHex(shortcut.value.sharedSecret)).toBe(bytesToHex(computed.value.sharedSecret));
      expect(bytesToHex(shortcut.value.payload)).toBe(bytesToHex(computed.value.payload));
    }
    // Used once: the same onion again (a replay) computes its secret.
    expect(peelOnion(o.onion, hash, wrapped).ok).toBe(true);
    expect(calls()).toBe(1);
  });

  it('computes the ECDH for an onion it does not know', () => {
    const known = new KnownSharedSecrets();
    const { ecdh, calls } = counting();
    known.add(onion(0x33).ephemeralKey, onion(0x33).secret);
    expect(peelOnion(onion(0x44).onion, hash, known.wrap(ecdh)).ok).toBe(true);
    expect(calls()).toBe(1);
    expect(known.size).toBe(1);
  });

  it('still checks the HMAC: a wrong secret makes the onion fail to peel', () => {
    const known = new KnownSharedSecrets();
    const o = onion(0x33);
    known.add(o.ephemeralKey, new Uint8Array(32).fill(7));
    const peeled = peelOnion(o.onion, hash, known.wrap(ecdhWithPrivateKey(nodeKey)));
    expect(peeled.ok).toBe(false);
  });

  it('refuses keys and secrets of the wrong length', () => {
    expect(() => new KnownSharedSecrets().add(new Uint8Array(32), new Uint8Array(32))).toThrow(RangeError);
    expect(() => new KnownSharedSecrets().add(new Uint8Array(33), new Uint8Array(31))).toThrow(RangeError);
  });
});
