import Foundation
import Synchronization

/// A JSON Lines file written by rank 0, one whole record per `write`.
///
/// The file is opened (created or truncated) when the job starts, so an unwritable path is found before any
/// training. Each record goes out in a single `write` in append mode, so a killed run leaves whole lines only.
///
/// It is safe to append from two threads (the trainer and the signal thread): each append encodes with its own
/// encoder and the kernel keeps `O_APPEND` writes whole.
public final class RunLog: Sendable {
    /// The log's path.
    public let path: String
    private let descriptor: Int32
    /// Set by ``appendLast(_:)``: later records are dropped, so the log's last line stays the last word.
    private let sealed = Atomic<Bool>(false)

    /// Opens `path` for writing, creating it, and emptying it unless `continuing` (a resumed run).
    /// - Throws: ``JobFailure`` of kind `.output` naming the path and the system's reason.
    public init(path: String, continuing: Bool = false) throws {
        self.path = path
        let truncate = continuing ? 0 : O_TRUNC
        descriptor = open(path, O_WRONLY | O_CREAT | truncate | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw JobFailure(.output, "cannot write the run log '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Appends a final record from another thread (the signal thread) and drops whatever the trainer appends
    /// after it, so that an interrupted log ends with its `end` record.
    public func appendLast(_ record: some Encodable) throws {
        guard !sealed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try writeLine(record)
    }

    /// Appends one record as one line (nothing once the log is sealed by ``appendLast(_:)``).
    public func append(_ record: some Encodable) throws {
        guard !sealed.load(ordering: .acquiring) else { return }
        try writeLine(record)
    }

    private func writeLine(_ record: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw JobFailure(.output, "cannot write the run log '\(path)': \(String(cString: strerror(errno)))")
        }
    }
}
