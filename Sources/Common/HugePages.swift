import Glibc

/// Transparent huge pages for the large buffers of loading.
///
/// A buffer of hundreds of megabytes is touched page by page the first time it is written, and each 4 KiB page
/// costs the kernel a fault; loading a large table spent more time there than in parsing. Where the kernel offers
/// transparent huge pages on request (`/sys/kernel/mm/transparent_hugepage/enabled` set to `madvise` or `always`),
/// advising them makes a fault bring 2 MiB. Elsewhere the advice is refused and changes nothing.
public enum HugePages {
    /// The huge page size of x86-64.
    static let size = 2 << 20

    /// Advises huge pages for the whole 2 MiB pages inside `bytes` bytes at `start` (none for a small buffer).
    public static func advise(_ start: UnsafeMutableRawPointer?, bytes: Int) {
        guard let start, bytes >= 2 * size else { return }
        let mask = UInt(size - 1)
        let first = (UInt(bitPattern: start) + mask) & ~mask
        let end = (UInt(bitPattern: start) + UInt(bytes)) & ~mask
        guard end > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(aligned, Int(end - first), MADV_HUGEPAGE)
    }
}
