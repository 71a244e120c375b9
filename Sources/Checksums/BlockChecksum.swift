import CXXHash

/// A fast checksum of a block of a binary data file: catches damage (a flipped bit, a truncated or edited block)
/// at a speed well above the page cache's, so that a rank verifies every byte it reads at no visible cost.
///
/// XXH3 (64 bits, seed 0) from the xxHash library (kept by its author, used by zstd and rsync), where SHA-1, the
/// digest of checkpoints and model files, runs an order of magnitude slower. Like ``Digest``, a checksum and not a
/// signature.
public enum BlockChecksum {
    /// The XXH3-64 of `bytes`.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(cxxhash_xxh3_64(bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, bytes.count))
    }
}
