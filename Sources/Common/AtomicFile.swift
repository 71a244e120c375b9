import Foundation
import Synchronization

/// Writes whole files so that a crash never leaves half of one: a temporary file beside the target, `fsync`,
/// then `rename`, which replaces the target in one step, then `fsync` of the folder, without which the rename
/// itself may be lost in a power failure (POSIX leaves directory entries to the folder's own sync).
///
/// A symbolic link at the path is kept and its target replaced; a path that holds anything but a regular file is
/// refused (a rename would replace a device node, a FIFO or a socket). Temporary files are registered while they
/// exist, so that a process ended by a signal or the stall watchdog removes them on its way out
/// (``removeTemporariesAndExit(_:)``), and a new job removes those a killed one left (``removeStaleTemporaries(of:)``).
public enum AtomicFile {
    /// Temporary files being written now. Held across the rename, so a signal thread that takes the lock never
    /// sees a temporary file that is about to be renamed into place.
    private static let temporaries = Mutex<Set<String>>([])

    /// Writes `bytes` to `path` atomically.
    /// - Throws: ``JobFailure`` of kind `.output` naming `what` (for example "the checkpoint"), the path and the
    ///   system's reason.
    public static func write(_ bytes: [UInt8], to path: String, what: String) throws {
        func refuse(_ problem: String) -> JobFailure { JobFailure(.output, "cannot write \(what) '\(path)': \(problem)") }
        var status = stat()
        if stat(path, &status) == 0, FileKind(mode: status.st_mode) != .regular {
            throw refuse("it is \(FileKind(mode: status.st_mode).noun), not a regular file, and is never replaced")
        }
        let target = try OutputPaths.followingLinks(path, refuse: refuse)
        let temporary = temporaryName(of: target)
        // `code` is the errno of the failed call, read before anything else can change it.
        func fail(_ step: String, _ code: Int32) -> JobFailure {
            unlink(temporary)
            temporaries.withLock { _ = $0.remove(temporary) }
            return refuse("\(step): \(String(cString: strerror(code)))")
        }
        temporaries.withLock { _ = $0.insert(temporary) }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else { throw fail("open", errno) }
        if let failure = bytes.withUnsafeBytes({ writeAll($0, to: descriptor) }) {
            close(descriptor)
            throw fail("write", failure.code)
        }
        guard fsync(descriptor) == 0 else {
            let code = errno
            close(descriptor)
            throw fail("fsync", code)
        }
        close(descriptor)
        let renameError = temporaries.withLock { names -> Int32 in
            guard rename(temporary, target) == 0 else { return errno }
            names.remove(temporary)
            return 0
        }
        guard renameError == 0 else { throw fail("rename", renameError) }
        let folderDescriptor = open(PathComponents.folder(of: target), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folderDescriptor >= 0 else { throw refuse("open its folder: \(String(cString: strerror(errno)))") }
        defer { close(folderDescriptor) }
        guard fsync(folderDescriptor) == 0 else { throw refuse("fsync its folder: \(String(cString: strerror(errno)))") }
    }

    /// Writes `bytes` to a streamed output: through the descriptor when `path` names one of this process's own
    /// (`/dev/stdout`), straight into a character device or FIFO at `path` (`/dev/null`, a named pipe), atomically
    /// (``write(_:to:what:)``) anywhere else. A FIFO without a reader is refused, not waited on.
    public static func writeStream(_ bytes: [UInt8], to path: String, what: String) throws {
        func refuse(_ problem: String) -> JobFailure { JobFailure(.output, "cannot write \(what) '\(path)': \(problem)") }
        if let descriptor = OutputPaths.ownDescriptor(path) {
            if let failure = bytes.withUnsafeBytes({ writeAll($0, to: descriptor) }) { throw refuse(failure.reason) }
            return
        }
        var status = stat()
        guard stat(path, &status) == 0, [.characterDevice, .fifo].contains(FileKind(mode: status.st_mode)) else {
            return try write(bytes, to: path, what: what)
        }
        let descriptor = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw refuse(errno == ENXIO ? "the FIFO has no reader" : String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        if let failure = bytes.withUnsafeBytes({ writeAll($0, to: descriptor) }) { throw refuse(failure.reason) }
    }

    /// Removes every temporary file this process is writing and ends it with `code`, holding the registry's lock
    /// so that no write renames one into place meanwhile. For the signal thread and the stall watchdog.
    public static func removeTemporariesAndExit(_ code: Int32) -> Never {
        temporaries.withLock { names in
            for name in names { unlink(name) }
            _exit(code)
        }
    }

    /// Removes the temporary files of `path` that a killed process left beside it (`<target>.tmp-<pid>`: process
    /// ids are per host, and a requeued job may run on another node, so any pid's). Call before the job writes.
    public static func removeStaleTemporaries(of path: String) {
        guard let target = try? OutputPaths.followingLinks(path, refuse: { JobFailure(.output, $0) }) else { return }
        let folder = PathComponents.folder(of: target)
        let prefix = PathComponents.name(of: target) + ".tmp-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names where name.hasPrefix(prefix) {
            let pid = name.dropFirst(prefix.count)
            guard !pid.isEmpty, pid.allSatisfy(\.isASCIIDigit) else { continue }
            unlink(PathComponents.join(folder, name))
        }
    }

    /// The temporary file this process writes before renaming it to `target`.
    static func temporaryName(of target: String) -> String { target + ".tmp-\(getpid())" }
}

extension Character {
    /// True for the ASCII digits 0 to 9.
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
