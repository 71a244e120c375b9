import Foundation

/// How a job writes one of its outputs, which decides what may already be at its path.
public enum OutputMode: Sendable {
    /// Written whole to a temporary file beside the path and renamed over it (checkpoints, model files, timelines):
    /// the path must be a regular file or nothing yet.
    case replaced
    /// Appended to, record by record (the run log): the path must be a regular file or nothing yet.
    case appended
    /// Written in one stream (predictions): replaced as above when the path is a regular file or nothing yet,
    /// written directly when it is a character device or a FIFO (`/dev/stdout`, a pipe).
    case streamed
}

/// One output of a job: the flag that names it, the path given, and where its bytes go.
public struct OutputPath: Sendable {
    /// The option that names the output (`--log`), for messages.
    public let flag: String
    /// The path as given.
    public let path: String
    /// The path after following symbolic links in its last component: a link is kept and its target written.
    public let target: String
    /// What is at the target now; nil when nothing is.
    public let kind: FileKind?
    public let mode: OutputMode
    /// The file at the target, or the folder and name it will have.
    let place: Place

    enum Place: Hashable {
        case existing(FileIdentity)
        case new(folder: FileIdentity, name: String)
    }
}

/// The check every job makes of its files before it does any work, so that no output ever destroys an input,
/// another output or a special file, and no run is lost to an output that cannot be written at its end.
///
/// Files are compared by device and inode after following links, so `./d`, `d`, a hard link and a symbolic link to
/// the data file all count as the data file.
public enum OutputPaths {
    /// Checks `outputs` against `inputs` and against each other, and what is at each output's path.
    ///
    /// - Parameters:
    ///   - inputs: the job's input files as (flag, path); those that do not exist are left to their readers.
    ///   - outputs: the job's outputs as (flag, path, mode).
    ///   - allowed: (input flag, output flag) pairs that may name one file (`--resume` and `--checkpoint`: the
    ///     normal resume loop).
    /// - Returns: the resolved outputs, in the order given.
    /// - Throws: ``JobFailure`` of kind `.usage` (exit 64) when an output is an input or another output, of kind
    ///   `.output` (exit 73) when an output's path holds something it must not replace or its folder cannot be
    ///   written.
    @discardableResult
    public static func check(
        inputs: [(flag: String, path: String)], outputs: [(flag: String, path: String, mode: OutputMode)],
        allowed: Set<[String]> = []
    ) throws -> [OutputPath] {
        let resolved = try outputs.map { try resolve(flag: $0.flag, path: $0.path, mode: $0.mode) }
        for output in resolved {
            for input in inputs {
                guard case .existing(let identity) = output.place, FileIdentity(path: input.path) == identity,
                      !allowed.contains([input.flag, output.flag]) else { continue }
                throw JobFailure(.usage, "\(output.flag) '\(output.path)' is the \(input.flag) file "
                    + "'\(input.path)': an output never replaces an input")
            }
        }
        for (index, output) in resolved.enumerated() {
            if let other = resolved[..<index].first(where: { $0.place == output.place }) {
                throw JobFailure(.usage, "\(other.flag) '\(other.path)' and \(output.flag) '\(output.path)' name the "
                    + "same file: give each output its own")
            }
        }
        return resolved
    }

    /// Where `path` leads and whether an output of `mode` may be written there.
    public static func resolve(flag: String, path: String, mode: OutputMode) throws -> OutputPath {
        func refuse(_ problem: String) -> JobFailure { JobFailure(.output, "cannot write \(flag) '\(path)': \(problem)") }
        guard !path.isEmpty else { throw refuse("the path is empty") }
        // One of this process's own descriptors (/dev/stdout): written through the descriptor, whatever it is.
        var status = stat()
        if mode == .streamed, let descriptor = ownDescriptor(path), fstat(descriptor, &status) == 0 {
            return OutputPath(flag: flag, path: path, target: path, kind: FileKind(mode: status.st_mode), mode: mode,
                              place: .existing(FileIdentity(status)))
        }
        // What is there, as the kernel follows the path (links such as /dev/stdin -> /proc/self/fd/0 -> a pipe lead
        // to things that have no path of their own).
        if stat(path, &status) == 0 {
            let kind = FileKind(mode: status.st_mode)
            switch kind {
            case .regular:
                let target = try followingLinks(path, refuse: refuse)
                try requireWritableFolder(of: target, refuse: refuse)
                return OutputPath(flag: flag, path: path, target: target, kind: kind, mode: mode,
                                  place: .existing(FileIdentity(status)))
            case .characterDevice where mode == .streamed, .fifo where mode == .streamed:
                return OutputPath(flag: flag, path: path, target: path, kind: kind, mode: mode,
                                  place: .existing(FileIdentity(status)))
            case .directory:
                throw refuse("it is a directory")
            default:
                throw refuse("it is \(kind.noun), not a regular file, and is never replaced")
            }
        }
        let target = try followingLinks(path, refuse: refuse)
        let folder = try requireWritableFolder(of: target, refuse: refuse)
        return OutputPath(flag: flag, path: path, target: target, kind: nil, mode: mode,
                          place: .new(folder: folder, name: PathComponents.name(of: target)))
    }

    /// The descriptor `path` names when it is one of this process's own (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`,
    /// `/proc/self/fd/N`): writing to it must go through the descriptor, at its offset, not through a new open
    /// of the file behind it (which would start at offset 0) or a rename (which would detach the descriptor).
    public static func ownDescriptor(_ path: String) -> Int32? {
        switch path {
        case "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
                if let number = Int32(path.dropFirst(prefix.count)), number >= 0 { return number }
            }
            return nil
        }
    }

    /// `path` with symbolic links in its last component followed (up to 40, as the kernel does), so that writing
    /// the result keeps a link and replaces what it points to; a dangling link gives the path it points to.
    public static func followingLinks(_ path: String, refuse: (String) -> JobFailure) throws -> String {
        var current = path
        for _ in 0..<40 {
            var status = stat()
            guard lstat(current, &status) == 0, status.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, buffer.count - 1)
            guard length > 0 else { throw refuse("its symbolic link cannot be read: \(String(cString: strerror(errno)))") }
            let destination = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = destination.hasPrefix("/")
                ? destination : PathComponents.join(PathComponents.folder(of: current), destination)
        }
        throw refuse("too many levels of symbolic links")
    }

    /// Checks that the folder of `path` exists and that this process may create and rename files in it.
    @discardableResult
    static func requireWritableFolder(of path: String, refuse: (String) -> JobFailure) throws -> FileIdentity {
        let folder = PathComponents.folder(of: path)
        var status = stat()
        guard stat(folder, &status) == 0 else {
            throw refuse("its folder '\(folder)' does not exist")
        }
        guard FileKind(mode: status.st_mode) == .directory else { throw refuse("'\(folder)' is not a folder") }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw refuse("its folder '\(folder)' is not writable: \(String(cString: strerror(errno)))")
        }
        return FileIdentity(status)
    }
}
