import Optimization
import Models
import Data
import Common
import Foundation

/// A JSON Lines file written by rank 0, one whole record per `write`.
///
/// The file is opened when the job starts, so an unwritable path (or a finished run's log) is found before any
/// training. Each record goes out in a single `write` in append mode, so a killed run leaves whole lines only.
///
/// The interrupt handler appends its `end` record with one raw `write` to the same descriptor; the kernel keeps
/// `O_APPEND` writes whole, so records never interleave.
public final class RunLog: Sendable {
    /// The log's path.
    public let path: String
    private let descriptor: Int32

    /// Opens `path` for writing, creating it. A resumed run (`continuing`) appends to the log it continues; a new
    /// run refuses a log that already holds records unless `overwrite` (a finished run is never lost silently).
    /// - Throws: ``JobFailure`` of kind `.output` naming the path and the system's reason, or the refusal.
    public init(path: String, continuing: Bool = false, overwrite: Bool = false) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw JobFailure(.output, "cannot write the run log '\(path)': \(String(cString: strerror(errno)))")
        }
        guard !continuing else { return }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw JobFailure(.output, "cannot write the run log '\(path)': \(String(cString: strerror(errno)))")
        }
        if status.st_size > 0 && !overwrite {
            throw JobFailure(.output, "the run log '\(path)' already holds a run: give --overwrite to replace it, "
                + "or --resume CHECKPOINT to continue it")
        }
        guard ftruncate(descriptor, 0) == 0 else {
            throw JobFailure(.output, "cannot empty the run log '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// The file descriptor, for the interrupt handler's one raw `write` (it may not lock or allocate).
    var descriptorForSignalHandler: Int32 { descriptor }

    deinit {
        close(descriptor)
    }

    /// Appends one record as one line.
    public func append(_ record: some Encodable) throws {
        try writeLine(try Self.encode(record))
    }

    private static func encode(_ record: some Encodable) throws -> Data {
        var line = try RunLogSchema.encoder().encode(record)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    private func writeLine(_ line: Data) throws {
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw JobFailure(.output, "cannot write the run log '\(path)': \(String(cString: strerror(errno)))")
        }
    }
}
