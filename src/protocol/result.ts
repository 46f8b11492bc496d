/**
 * Decoders return a Result instead of throwing: a bad input from the network is an expected outcome,
 * not an exception. Encoders are total and throw only on programmer error (TypeError / RangeError).
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export const ok = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value });
export const err = <E>(error: E): { readonly ok: false; readonly error: E } => ({ ok: false, error });
