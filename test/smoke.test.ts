import { describe, expect, it } from 'vitest';
import * as lnmux from '../src/index.js';

describe('package', () => {
  it('loads the public entry point as an ES module', () => {
    expect(typeof lnmux.protocol.decodeInvoice).toBe('function');
    expect(typeof lnmux.protocol.peelOnion).toBe('function');
  });
});

describe('library entry point', () => {
  it('exports the Mux and its errors', () => {
    expect(typeof lnmux.Mux.open).toBe('function');
    expect(new lnmux.UnknownSetError('x')).toBeInstanceOf(Error);
    expect(typeof lnmux.migrateUp).toBe('function');
    expect(new lnmux.IdentityKeyMismatchError('02aa', '03bb', new Date(0))).toBeInstanceOf(lnmux.StoreError);
    expect(typeof lnmux.requireNodeIdentity).toBe('function');
  });
});
