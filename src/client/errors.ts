/** The error every `lnmux/client` call rejects with: the gRPC status code and the daemon's message. */
import { status } from '@grpc/grpc-js';

export { status as GrpcStatus } from '@grpc/grpc-js';

export class LnmuxClientError extends Error {
  override readonly name = 'LnmuxClientError';
  /** The gRPC status code (e.g. status.NOT_FOUND = 5, status.UNAVAILABLE = 14 when nothing listens). */
  readonly code: status;
  /** The code's name: 'NOT_FOUND', 'UNAUTHENTICATED', ... */
  readonly codeName: string;
  /** The daemon's message (for INVALID_ARGUMENT it begins with the field's name). */
  readonly details: string;

  constructor(code: status, details: string, options?: { cause?: unknown }) {
    const codeName = status[code] ?? `code ${code}`;
    super(`${codeName}: ${details}`, options);
    this.code = code;
    this.codeName = codeName;
    this.details = details;
  }
}

/** A grpc-js ServiceError (or anything thrown by the transport) as an LnmuxClientError. */
export function clientError(error: unknown): LnmuxClientError {
  if (error instanceof LnmuxClientError) return error;
  const e = error as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof e?.code === 'number') return new LnmuxClientError(e.code, typeof e.details === 'string' ? e.details : String(e.message), { cause: error });
  return new LnmuxClientError(status.UNKNOWN, error instanceof Error ? error.message : String(error), { cause: error });
}
