import CCrypto
import Foundation

/// Hex digests for integrity checks: of downloaded data (d2l publishes SHA-1 sums), of checkpoint and model file
/// payloads, and of a model's parameter bits (`params_digest`). A checksum, not a signature: it catches damage,
/// not a deliberate edit whose digest was recomputed.
///
/// SHA-1 comes from the system's OpenSSL libcrypto (installed by apt like OpenMPI): a kept implementation that
/// costs nothing to build, where swift-crypto compiled BoringSSL (about 360 files, most of a clean build).
public enum Digest {
    /// The lowercase hex SHA-1 of `bytes`.
    public static func sha1(_ bytes: some DataProtocol) -> String {
        sha1Bytes(bytes).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// The 20 bytes of the SHA-1 of `bytes`.
    public static func sha1Bytes(_ bytes: some DataProtocol) -> [UInt8] {
        let contiguous = Array(bytes)
        var digest = [UInt8](repeating: 0, count: 20)
        let succeeded = contiguous.withUnsafeBytes { buffer in
            ccrypto_sha1(buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, buffer.count, &digest)
        }
        precondition(succeeded == 1, "libcrypto's SHA-1 failed")
        return digest
    }

    /// The leading 64 bits of the SHA-1 of the buffers' bytes in order: equal for two lists of buffers whose bits
    /// are all equal, and, for lists that differ anywhere, equal only by a collision of SHA-1's 64-bit prefix.
    public static func fingerprint(_ buffers: [UnsafeRawBufferPointer]) -> Int64 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(buffers.reduce(0) { $0 + $1.count })
        for buffer in buffers { bytes += buffer }
        return sha1Bytes(bytes).prefix(8).reduce(0) { $0 << 8 | Int64($1) }
    }

    /// The SHA-1 of the floats' bit patterns in order, little-endian: equal exactly when every bit is.
    public static func sha1(bitsOf values: UnsafeBufferPointer<Float>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            let bits = value.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return sha1(bytes)
    }
}

extension String {
    /// The string padded on the left with `pad` to at least `width` characters.
    public func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
