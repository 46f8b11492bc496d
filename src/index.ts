/**
 * lnmux: fail-over for incoming Lightning payments.
 *
 * The library's public surface. The protocol core is exported from here as it lands; the Mux class
 * comes with the multiplexer.
 */
export {};
