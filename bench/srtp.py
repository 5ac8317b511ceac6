"""SRTP packets as an SDES phone sends them (RFC 3711: AES_CM_128_HMAC_SHA1_80, key derivation rate 0), for the
call benchmark and the call tests: what rtpengine must decrypt and re-key to pass them on. Only the sender's
side (nothing here decrypts): a receiver counts what arrives."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PCMU_SILENCE = bytes([0xFF]) * 160  # 20 ms at 8 kHz


def _keystream(key: bytes, iv: int, length: int) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv.to_bytes(16, "big"))).encryptor()
    return encryptor.update(bytes(length)) + encryptor.finalize()


@dataclass(frozen=True)
class SrtpSender:
    """The session keys of one SDES master key (16 bytes key, 14 bytes salt)."""

    cipher_key: bytes
    auth_key: bytes
    salt: int

    @classmethod
    def of(cls, master: bytes) -> SrtpSender:
        key, salt = master[:16], int.from_bytes(master[16:30], "big")

        def derive(label: int, length: int) -> bytes:  # RFC 3711 4.3.1: x = key_id XOR master_salt
            return _keystream(key, (salt ^ (label << 48)) << 16, length)

        return cls(derive(0, 16), derive(1, 20), int.from_bytes(derive(2, 14), "big"))

    @classmethod
    def inline(cls, key: str) -> SrtpSender:
        """From an `a=crypto` line's `inline:` key (base64)."""
        return cls.of(base64.b64decode(key))

    def packet(self, ssrc: int, seq: int, timestamp: int, payload: bytes = PCMU_SILENCE) -> bytes:
        """RTP packet number `seq` (PCMU) of the stream `ssrc`, encrypted and authenticated."""
        header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
        roc = seq >> 16
        iv = (self.salt << 16) ^ (ssrc << 64) ^ (((roc << 16) | (seq & 0xFFFF)) << 16)
        body = bytes(a ^ b for a, b in zip(payload, _keystream(self.cipher_key, iv, len(payload)), strict=True))
        mac = hmac.HMAC(self.auth_key, hashes.SHA1())
        mac.update(header + body + struct.pack("!I", roc))
        return header + body + mac.finalize()[:10]
