import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MINIMUM_VERSIONS,
  describeRefusal,
  evaluateChecks,
  parseRelease,
  versionAccepted,
  type CheckRefusal,
} from '../../src/lnd/checks.js';
import type { NodeInfo, NodeVersion } from '../../src/lnd/convert.js';

const pubkey = `02${'11'.repeat(32)}`;
const other = `03${'22'.repeat(32)}`;
const info: NodeInfo = {
  identityPubkey: pubkey,
  alias: 'n',
  network: 'mainnet',
  blockHeight: 900_000,
  syncedToChain: true,
  requireHtlcInterceptor: true,
  storeFinalHtlcResolutions: true,
  version: '0.21.2-beta',
};
const version = (major: number, minor: number, patch: number, preRelease = 'beta'): NodeVersion => ({
  major,
  minor,
  patch,
  preRelease,
  version: `${major}.${minor}.${patch}-${preRelease}`,
  commitHash: '',
});
const expected = { pubkey, network: 'mainnet' };

describe('versionAccepted with the default floors (0.20.2, 0.21.1)', () => {
  const accepted = (v: NodeVersion): boolean => versionAccepted(v, DEFAULT_MINIMUM_VERSIONS).accepted;

  it('accepts the releases with the on-chain interceptor settlement fix', () => {
    expect(accepted(version(0, 20, 2))).toBe(true);
    expect(accepted(version(0, 20, 3))).toBe(true);
    expect(accepted(version(0, 21, 1))).toBe(true);
    expect(accepted(version(0, 21, 2))).toBe(true);
    expect(accepted(version(0, 22, 0, 'beta.rc1'))).toBe(true);
    expect(accepted(version(1, 0, 0))).toBe(true);
  });

  it('refuses the releases without it, including 0.21.0 which is newer than 0.20.2', () => {
    expect(accepted(version(0, 20, 1))).toBe(false);
    expect(accepted(version(0, 21, 0))).toBe(false);
    expect(accepted(version(0, 19, 3))).toBe(false);
    expect(accepted(version(0, 16, 0))).toBe(false);
  });

  it('refuses a release candidate of the floor release and accepts one of a later patch', () => {
    expect(accepted(version(0, 21, 1, 'beta.rc1'))).toBe(false);
    expect(accepted(version(0, 21, 2, 'beta.rc1'))).toBe(true);
  });

  it('holds a version to the floor of its own line, and says which', () => {
    expect(versionAccepted(version(0, 20, 1), DEFAULT_MINIMUM_VERSIONS)).toEqual({ accepted: false, minimum: '0.20.2' });
    expect(versionAccepted(version(0, 18, 0), DEFAULT_MINIMUM_VERSIONS)).toEqual({ accepted: false, minimum: '0.21.1' });
  });
});

describe('parseRelease', () => {
  it('reads major.minor.patch and refuses anything else, naming the setting', () => {
    expect(parseRelease('0.21.1')).toEqual({ major: 0, minor: 21, patch: 1 });
    expect(() => parseRelease('0.21')).toThrow(/minimumVersions/);
    expect(() => parseRelease('v0.21.1-beta')).toThrow(/minimumVersions/);
  });
});

describe('evaluateChecks', () => {
  it('passes a node that is what the config says', () => {
    expect(evaluateChecks(version(0, 21, 2), info, expected)).toEqual([]);
  });

  it('compares the pubkey without regard to hex case', () => {
    expect(evaluateChecks(version(0, 21, 2), info, { ...expected, pubkey: pubkey.toUpperCase() })).toEqual([]);
  });

  it('refuses another node and names both pubkeys', () => {
    const refusals = evaluateChecks(version(0, 21, 2), { ...info, identityPubkey: other }, expected);
    expect(refusals).toEqual([{ kind: 'pubkeyMismatch', configured: pubkey, reported: other }]);
    expect(describeRefusal(refusals[0]!)).toContain(other);
    expect(describeRefusal(refusals[0]!)).toContain(pubkey);
  });

  it('refuses a node on another network and names both', () => {
    expect(evaluateChecks(version(0, 21, 2), { ...info, network: 'testnet' }, expected)).toEqual([
      { kind: 'networkMismatch', configured: 'mainnet', reported: 'testnet' },
    ]);
  });

  it('refuses a node without --requireinterceptor', () => {
    expect(evaluateChecks(version(0, 21, 2), { ...info, requireHtlcInterceptor: false }, expected)).toEqual([
      { kind: 'interceptorNotRequired' },
    ]);
  });

  it('refuses a node without --store-final-htlc-resolutions', () => {
    expect(evaluateChecks(version(0, 21, 2), { ...info, storeFinalHtlcResolutions: false }, expected)).toEqual([
      { kind: 'finalResolutionsNotStored' },
    ]);
  });

  it('refuses a version below the configured minimum', () => {
    expect(evaluateChecks(version(0, 21, 2), info, { ...expected, minimumVersions: ['0.21.3'] })).toEqual([
      { kind: 'versionTooOld', version: '0.21.2-beta', minimum: '0.21.3' },
    ]);
  });

  it('lists every failed check, in check order', () => {
    const refusals = evaluateChecks(
      version(0, 19, 0),
      { ...info, identityPubkey: other, network: 'regtest', requireHtlcInterceptor: false, storeFinalHtlcResolutions: false },
      expected,
    );
    expect(refusals.map((r) => r.kind)).toEqual([
      'versionTooOld',
      'pubkeyMismatch',
      'networkMismatch',
      'interceptorNotRequired',
      'finalResolutionsNotStored',
    ]);
  });

  it('describes each refusal by the check it failed', () => {
    const cases: Array<[CheckRefusal, RegExp]> = [
      [{ kind: 'versionTooOld', version: '0.19.0-beta', minimum: '0.21.1' }, /^version check/],
      [{ kind: 'pubkeyMismatch', configured: pubkey, reported: other }, /^identity check/],
      [{ kind: 'networkMismatch', configured: 'mainnet', reported: 'regtest' }, /^network check/],
      [{ kind: 'interceptorNotRequired' }, /--requireinterceptor/],
      [{ kind: 'finalResolutionsNotStored' }, /--store-final-htlc-resolutions/],
      [{ kind: 'unauthenticated', method: 'GetVersion', details: 'x' }, /^macaroon check/],
      [{ kind: 'malformedResponse', method: 'GetInfo', details: 'x' }, /^response check/],
      [
        { kind: 'macaroonLacksPermission', methods: ['/routerrpc.Router/HtlcInterceptor'], details: 'permission denied' },
        /^macaroon check: the macaroon does not grant \/routerrpc\.Router\/HtlcInterceptor \(LND: permission denied\); use admin\.macaroon or bake one with info:read offchain:read offchain:write onchain:read$/,
      ],
    ];
    for (const [reason, text] of cases) expect(describeRefusal(reason)).toMatch(text);
  });
});
