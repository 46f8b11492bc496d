/**
 * lnmux: fail-over for incoming Lightning payments.
 *
 * The library's public surface. The Mux class (the multiplexer) arrives with issue 5; the protocol core
 * is exported as `protocol` for applications that decode invoices, build onions or test against lnmux.
 */
export * as protocol from './protocol/index.js';
