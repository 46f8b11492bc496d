/** The model of LND's InterceptableSwitch (htlcswitch/interceptable_switch.go, held_htlc_set.go). */
import { describe, expect, it } from 'vitest';
import { InterceptableSwitch, lndCircuitKeyText, type InterceptedForward, type SwitchFailCode } from '../../src/sim/interceptable-switch.js';
import { FAILURE_PACKET_LENGTH } from '../../src/protocol/index.js';

type Action = { kind: 'resume' } | { kind: 'settle' } | { kind: 'fail' } | { kind: 'failWithCode'; code: SwitchFailCode };

function forward(htlcId: bigint, incomingExpiry: number, log: Action[]): InterceptedForward {
  return {
    key: { chanId: 7n, htlcId },
    incomingExpiry,
    resume: () => log.push({ kind: 'resume' }),
    settle: () => {
      log.push({ kind: 'settle' });
      return undefined;
    },
    fail: () => log.push({ kind: 'fail' }),
    failWithCode: (code) => log.push({ kind: 'failWithCode', code }),
  };
}

function setup(requireInterceptor: boolean, height = 100) {
  let h = height;
  const sw = new InterceptableSwitch({ requireInterceptor, height: () => h });
  const offered: bigint[] = [];
  const interceptor = (f: InterceptedForward): void => {
    offered.push(f.key.htlcId);
  };
  return { sw, offered, interceptor, setHeight: (v: number) => (h = v) };
}

describe('InterceptableSwitch', () => {
  it('fails an HTLC expiring within 22 blocks with expiry_too_soon, and one whose auto-fail height overflows int32 with expiry_too_far', () => {
    const { sw, interceptor } = setup(true);
    sw.setInterceptor(interceptor);
    const log: Action[] = [];
    expect(sw.forward(forward(0n, 121, log), false)).toBe(true);
    expect(sw.forward(forward(1n, 0x7fff_ffff + 20, log), false)).toBe(true);
    expect(log).toEqual([
      { kind: 'failWithCode', code: 'expiryTooSoon' },
      { kind: 'failWithCode', code: 'expiryTooFar' },
    ]);
    expect(sw.heldKeys()).toEqual([]);
  });

  it('holds and offers at exactly 22 blocks', () => {
    const { sw, interceptor, offered } = setup(true);
    sw.setInterceptor(interceptor);
    expect(sw.forward(forward(0n, 122, []), false)).toBe(true);
    expect(offered).toEqual([0n]);
  });

  it('with the interceptor required and none connected: fails new HTLCs, holds replays', () => {
    const { sw, interceptor, offered } = setup(true);
    const log: Action[] = [];
    expect(sw.forward(forward(0n, 200, log), false)).toBe(true);
    expect(log).toEqual([{ kind: 'failWithCode', code: 'temporaryChannelFailure' }]);
    expect(sw.forward(forward(1n, 200, log), true)).toBe(true);
    expect(sw.heldKeys()).toEqual([{ chanId: 7n, htlcId: 1n }]);
    sw.setInterceptor(interceptor);
    expect(offered).toEqual([1n]);
  });

  it('without the requirement and no interceptor, lets the switch forward', () => {
    const { sw } = setup(false);
    expect(sw.forward(forward(0n, 200, []), false)).toBe(false);
  });

  it('ignores an HTLC already held (a duplicate replay)', () => {
    const { sw, interceptor, offered } = setup(true);
    sw.setInterceptor(interceptor);
    sw.forward(forward(0n, 200, []), false);
    sw.forward(forward(0n, 200, []), true);
    expect(offered).toEqual([0n]);
  });

  it('keeps held HTLCs when a required interceptor disconnects and re-offers them all on reconnect', () => {
    const { sw, interceptor, offered } = setup(true);
    sw.setInterceptor(interceptor);
    sw.forward(forward(0n, 200, []), false);
    sw.forward(forward(1n, 200, []), false);
    sw.setInterceptor(undefined);
    expect(sw.heldKeys()).toHaveLength(2);
    sw.setInterceptor(interceptor);
    expect(offered).toEqual([0n, 1n, 0n, 1n]);
  });

  it('resumes held HTLCs when an optional interceptor disconnects', () => {
    const { sw, interceptor } = setup(false);
    sw.setInterceptor(interceptor);
    const log: Action[] = [];
    sw.forward(forward(0n, 200, log), false);
    sw.setInterceptor(undefined);
    expect(log).toEqual([{ kind: 'resume' }]);
    expect(sw.heldKeys()).toEqual([]);
  });

  it('fails a held HTLC with temporary_channel_failure at its auto-fail height (incoming expiry - 19)', () => {
    const { sw, interceptor } = setup(true);
    sw.setInterceptor(interceptor);
    const log: Action[] = [];
    sw.forward(forward(0n, 200, log), false);
    sw.blockConnected(180);
    expect(log).toEqual([]);
    sw.blockConnected(181);
    expect(log).toEqual([{ kind: 'failWithCode', code: 'temporaryChannelFailure' }]);
    expect(sw.heldKeys()).toEqual([]);
  });

  it('applies a resolution once, then reports the forward as unknown', () => {
    const { sw, interceptor } = setup(true);
    sw.setInterceptor(interceptor);
    const log: Action[] = [];
    sw.forward(forward(3n, 200, log), false);
    expect(sw.resolve({ chanId: 7n, htlcId: 3n }, { action: 'settle', preimage: new Uint8Array(32) })).toBeUndefined();
    expect(log).toEqual([{ kind: 'settle' }]);
    expect(sw.resolve({ chanId: 7n, htlcId: 3n }, { action: 'resume' })).toBe(`forward does not exist: ${lndCircuitKeyText({ chanId: 7n, htlcId: 3n })}`);
  });

  it('keeps the HTLC held when a settle is refused', () => {
    const { sw, interceptor } = setup(true);
    sw.setInterceptor(interceptor);
    const f = { ...forward(0n, 200, []), settle: () => 'preimage does not match hash' };
    sw.forward(f, false);
    expect(sw.resolve(f.key, { action: 'settle', preimage: new Uint8Array(32) })).toBe('preimage does not match hash');
    expect(sw.heldKeys()).toHaveLength(1);
  });

  it('formats circuit keys as LND does', () => {
    expect(lndCircuitKeyText({ chanId: (700_000n << 40n) | (12n << 16n) | 1n, htlcId: 5n })).toBe('(Chan ID=700000:12:1, HTLC ID=5)');
  });
});

describe('InterceptableSwitch, on-chain flow', () => {
  it('re-offers an HTLC moved on chain with its expiry as deadline, once', () => {
    const { sw } = setup(true);
    const deadlines: number[] = [];
    sw.setInterceptor((_f, deadline) => deadlines.push(deadline));
    const f = forward(0n, 200, []);
    sw.forward(f, false);
    sw.holdOnChain(f);
    sw.holdOnChain(f);
    expect(deadlines).toEqual([181, 200]);
  });

  it('refuses FAIL and RESUME for an on-chain HTLC and accepts SETTLE', () => {
    const { sw, interceptor } = setup(true);
    sw.setInterceptor(interceptor);
    const log: Action[] = [];
    const f = forward(0n, 200, log);
    sw.holdOnChain(f);
    expect(sw.resolve(f.key, { action: 'failWithCode', code: 'temporaryChannelFailure' })).toBe('cannot fail held htlc in the on-chain flow');
    expect(sw.resolve(f.key, { action: 'fail', failureMessage: new Uint8Array(FAILURE_PACKET_LENGTH) })).toBe('cannot fail held htlc in the on-chain flow');
    expect(sw.resolve(f.key, { action: 'resume' })).toBe('cannot resume held htlc in the on-chain flow');
    expect(sw.resolve(f.key, { action: 'settle', preimage: new Uint8Array(32) })).toBeUndefined();
    expect(log).toEqual([{ kind: 'settle' }]);
  });

  it('never fails an on-chain HTLC back: it is pruned at its deadline, and kept when an optional interceptor leaves', () => {
    const { sw, interceptor } = setup(false);
    sw.setInterceptor(interceptor);
    const log: Action[] = [];
    const f = forward(0n, 200, log);
    sw.holdOnChain(f);
    sw.setInterceptor(undefined);
    sw.blockConnected(199);
    expect(sw.heldKeys()).toHaveLength(1);
    sw.blockConnected(200);
    expect(sw.heldKeys()).toHaveLength(0);
    expect(log).toEqual([]);
  });
});
