/**
 * credentials/: LND's conventions for securing a gRPC service, shared by the simulator (which speaks as
 * LND) and the daemon's API: self-signed TLS certificates shaped like LND's tls.cert, and macaroons with
 * bakery v3 identifiers carrying `entity:action` permissions.
 */
export { createSelfSignedCertificate, type PemPair, type SelfSignedOptions } from './self-signed-cert.js';
export {
  addFirstPartyCaveat,
  allows,
  checkTimeBefore,
  decodeBakeryId,
  DEFAULT_ROOT_KEY_ID,
  encodeBakeryId,
  mintMacaroon,
  verifyMacaroon,
  type BakeryId,
  type MacaroonOp,
  type MacaroonRefusal,
  type MintOptions,
  type VerifiedMacaroon,
  type VerifyOptions,
} from './macaroon.js';
