import Foundation

/// Writes whole files so that a crash never leaves half of one: a temporary file beside the target, `fsync`,
/// then `rename`, which replaces the target in one step, then `fsync` of the folder, without which the rename
/// itself may be lost in a power failure (POSIX leaves directory entries to the folder's own sync).
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically.
    /// - Throws: ``JobFailure`` of kind `.output` naming `what` (for example "the checkpoint"), the path and the
    ///   system's reason.
    public static func write(_ bytes: [UInt8], to path: String, what: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        func fail(_ step: String) -> JobFailure {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return JobFailure(.output, "cannot write \(what) '\(path)': \(step): \(reason)")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw fail("open") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                close(descriptor)
                throw fail("write")
            }
            offset += written
        }
        guard fsync(descriptor) == 0 else {
            close(descriptor)
            throw fail("fsync")
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw fail("rename") }
        let folder = (path as NSString).deletingLastPathComponent
        let folderDescriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folderDescriptor >= 0 else { throw fail("open its folder") }
        defer { close(folderDescriptor) }
        guard fsync(folderDescriptor) == 0 else { throw fail("fsync its folder") }
    }
}
