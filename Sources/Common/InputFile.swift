import Foundation

/// What a path names, after following symbolic links.
public enum FileKind: Sendable, Equatable {
    case regular, directory, fifo, characterDevice, blockDevice, socket, other

    /// The kind of a `stat` mode.
    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        default: self = .other
        }
    }

    /// The kind with its article, for messages ("a FIFO (named pipe)").
    public var noun: String {
        switch self {
        case .regular: "a regular file"
        case .directory: "a directory"
        case .fifo: "a FIFO (named pipe)"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .socket: "a socket"
        case .other: "not a regular file"
        }
    }
}

/// A file as the kernel knows it: two paths name the same file exactly when their device and inode agree, whatever
/// links, `..` or mount points lie between.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    /// The identity of `status` (from `stat` or `fstat`).
    public init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }

    /// The identity of the file `path` names (links followed), nil when there is none.
    public init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        self.init(status)
    }
}

/// Opens the files a job reads (data, checkpoints, model files, run logs), none of which may block or be anything
/// but a regular file: a FIFO without a writer would block `open` forever, where no watchdog looks (the stall
/// watchdog times only collectives), and a device is no data set.
///
/// `open` is called with `O_NONBLOCK`, which lets it return at once for a FIFO; the descriptor's kind is then
/// checked with `fstat`, and the flag is cleared for the reads of a regular file.
public enum InputFile {
    /// Opens `path` for reading.
    ///
    /// - Parameters:
    ///   - what: the file's role, for messages (for example "data file", "checkpoint").
    ///   - missingHint: text appended to the message of a file that does not exist.
    /// - Returns: the open descriptor (the caller closes it), the file's size and its identity.
    /// - Throws: ``JobFailure`` of kind `.missingData` (exit 66) naming the path and what is wrong.
    public static func open(_ path: String, what: String, missingHint: String = "") throws
        -> (descriptor: Int32, size: Int, identity: FileIdentity)
    {
        switch openOrRefuse(path) {
        case .success(let file): return file
        case .failure(let refusal):
            throw JobFailure(.missingData, "\(what) '\(path)' \(refusal.problem)\(refusal.missing ? missingHint : "")")
        }
    }

    /// Why a file cannot be read: a phrase that follows its name ("not found", "is a directory, not a regular file").
    public struct Refusal: Error, Sendable {
        public let problem: String
        /// True when nothing is at the path.
        public let missing: Bool
    }

    /// Opens `path` for reading, or says why it cannot be read.
    public static func openOrRefuse(_ path: String) -> Result<(descriptor: Int32, size: Int, identity: FileIdentity), Refusal> {
        let descriptor = Foundation.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let failure = SystemError()
            if failure.code == ENOENT || failure.code == ENOTDIR {
                return .failure(Refusal(problem: "not found", missing: true))
            }
            return .failure(Refusal(problem: "cannot be read: \(failure.reason)", missing: false))
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let failure = SystemError()
            close(descriptor)
            return .failure(Refusal(problem: "cannot be read: \(failure.reason)", missing: false))
        }
        let kind = FileKind(mode: status.st_mode)
        guard kind == .regular else {
            close(descriptor)
            return .failure(Refusal(problem: "is \(kind.noun), not a regular file", missing: false))
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        return .success((descriptor, Int(status.st_size), FileIdentity(status)))
    }

    /// The first `limit` bytes (all by default) of the regular file `path`.
    /// - Throws: ``JobFailure`` of kind `.missingData` (exit 66), as ``open(_:what:missingHint:)``.
    public static func read(_ path: String, what: String, limit: Int = .max) throws -> [UInt8] {
        let file = try open(path, what: what)
        defer { close(file.descriptor) }
        return try read(file.descriptor, from: 0, count: min(file.size, limit), path: path, what: what)
    }

    /// Up to `count` bytes at `offset` of an open file (fewer only at its end).
    /// - Throws: ``JobFailure`` of kind `.missingData` with the system's reason.
    public static func read(_ descriptor: Int32, from offset: Int, count: Int, path: String, what: String) throws
        -> [UInt8]
    {
        // Not zeroed first: pread writes every byte that is kept (a large read would otherwise write it twice).
        try [UInt8](unsafeUninitializedCapacity: max(count, 0)) { buffer, initialized in
            HugePages.advise(UnsafeMutableRawPointer(buffer.baseAddress), bytes: buffer.count)
            initialized = try read(descriptor, into: UnsafeMutableRawBufferPointer(buffer), from: offset, path: path,
                                   what: what)
        }
    }

    /// Fills `buffer` from `offset` of an open file, as far as the file goes, and returns the bytes read.
    /// - Throws: ``JobFailure`` of kind `.missingData` with the system's reason.
    public static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, from offset: Int,
                            path: String, what: String) throws -> Int
    {
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else {
                throw JobFailure(.missingData, "\(what) '\(path)' cannot be read: \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            done += got
        }
        return done
    }
}
