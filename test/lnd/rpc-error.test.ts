import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { classifyRpcError } from '../../src/lnd/rpc-error.js';

const failure = (code: number, details: string) => classifyRpcError(Object.assign(new Error(details), { code, details }));

describe('classifyRpcError', () => {
  it("reads LND's macaroon errors, sent as status UNKNOWN, as unauthenticated", () => {
    for (const details of [
      'expected 1 macaroon, got 0',
      'verification failed: signature mismatch after caveat verification',
      'permission denied',
      'cannot get macaroon: root key with id 0 doesn\'t exist',
      'encoding/hex: invalid byte: U+0078 \'x\'',
    ]) {
      expect(failure(status.UNKNOWN, details)).toEqual({ kind: 'unauthenticated', code: status.UNKNOWN, details });
    }
  });

  it('reads the gRPC auth codes as unauthenticated too', () => {
    expect(failure(status.UNAUTHENTICATED, 'x').kind).toBe('unauthenticated');
    expect(failure(status.PERMISSION_DENIED, 'x').kind).toBe('unauthenticated');
  });

  it("reads LND's single-interceptor refusal", () => {
    expect(failure(status.UNKNOWN, 'interceptor already exists').kind).toBe('interceptorAlreadyExists');
  });

  it('keeps the refusals of a response as other, with their text', () => {
    expect(failure(status.UNKNOWN, 'forward does not exist: 1:2')).toEqual({ kind: 'other', code: 2, details: 'forward does not exist: 1:2' });
    expect(failure(status.INVALID_ARGUMENT, 'failure message length invalid').kind).toBe('other');
  });

  it('maps transport, deadline, cancel and not-found codes', () => {
    expect(failure(status.UNAVAILABLE, 'No connection established').kind).toBe('unavailable');
    expect(failure(status.DEADLINE_EXCEEDED, 'Deadline exceeded').kind).toBe('deadlineExceeded');
    expect(failure(status.CANCELLED, 'Cancelled on client').kind).toBe('cancelled');
    expect(failure(status.NOT_FOUND, 'htlc unknown').kind).toBe('notFound');
  });

  it('classifies anything thrown, not only gRPC errors', () => {
    expect(classifyRpcError(new TypeError('boom'))).toEqual({ kind: 'other', code: status.UNKNOWN, details: 'boom' });
    expect(classifyRpcError('text')).toEqual({ kind: 'other', code: status.UNKNOWN, details: 'text' });
  });
});
