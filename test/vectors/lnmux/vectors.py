"""Independent reference for the fixed vectors of test/protocol/{virtual-scid,set-id,keyring,stateless-invoice}.test.ts.

Written from docs/protocol.md, not from the TypeScript code, with Python's hashlib/hmac and the
`cryptography` package (HKDF, ChaCha20 with OpenSSL's 16-byte IV = 4-byte LE counter || 12-byte nonce).
Run: python3 test/vectors/lnmux/vectors.py
"""
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Node pubkeys from the seed project's README (NYDIG-OSS/lnmux README.md example invoice).
PUBKEYS = [
    "03422175ba6fed348de4f273cf81627c26d5ab2a78bfdc1a39e6f9c06354dd9371",
    "020723c6f2203f1072336bd0e71bf4d11e367ab0b3010ce60c080abef0d4770db8",
    "026ff75cb2ff49b864833aa3c93970069070231a9ad64819252e190406dd0a6976",
]

print("# virtual channel ids: last 8 bytes | 2^63, and BOLT 7 block x tx x output")
for pk in PUBKEYS:
    v = int(pk[-16:], 16) | (1 << 63)
    print(pk, hex(v), f"{v >> 40}x{(v >> 16) & 0xFFFFFF}x{v & 0xFFFF}")


def circuit_key(pk, chan_id, htlc_id):
    return bytes.fromhex(pk) + chan_id.to_bytes(8, "big") + htlc_id.to_bytes(8, "big")


print("# set_id")
keys = [
    circuit_key(PUBKEYS[1], 1161084279062528, 7),
    circuit_key(PUBKEYS[2], 1161084279062528, 7),
    circuit_key(PUBKEYS[1], 1161084279062528, 3),
]
print("three", hashlib.sha256(b"".join(sorted(keys))).hexdigest())
print("single", hashlib.sha256(keys[0]).hexdigest())

print("# keyring: identity key 0x11 * 32, HKDF-SHA256, empty salt")
identity = bytes([0x11] * 32)


def hkdf(info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(identity)


preimage_key = hkdf("lnmux/preimage/v0")
addr_key = hkdf("lnmux/payment-addr/v0")
print("preimage/v0", preimage_key.hex())
print("payment-addr/v0", addr_key.hex())
print("preimage/v1", hkdf("lnmux/preimage/v1").hex())

print("# stateless invoice: key id 0, nonce a0..af, 6000 msat, expires 1650000000")
nonce = bytes(range(0xA0, 0xB0))
plaintext = (6000).to_bytes(8, "big") + (1650000000).to_bytes(5, "big") + b"\0\0"
ciphertext = Cipher(algorithms.ChaCha20(addr_key, nonce), mode=None).encryptor().update(plaintext)
addr = bytes([0]) + nonce + ciphertext
preimage = hmac.new(preimage_key, addr, hashlib.sha256).digest()
print("payment_addr", addr.hex())
print("preimage", preimage.hex())
print("payment_hash", hashlib.sha256(preimage).hexdigest())

print("# amountless stateless invoice: key id 0, nonce a0..af, minimum 5000 msat, flags 0x01, expires 1650000000")
plaintext = (5000).to_bytes(8, "big") + (1650000000).to_bytes(5, "big") + b"\x01\0"
ciphertext = Cipher(algorithms.ChaCha20(addr_key, nonce), mode=None).encryptor().update(plaintext)
addr = bytes([0]) + nonce + ciphertext
preimage = hmac.new(preimage_key, addr, hashlib.sha256).digest()
print("payment_addr", addr.hex())
print("preimage", preimage.hex())
print("payment_hash", hashlib.sha256(preimage).hexdigest())
