import Common
import Data
import Foundation
import Models
import Optimization
import Synchronization

/// A JSON Lines file written by rank 0, one whole record per line.
///
/// The file is opened when the job starts, so an unwritable path (or a finished run's log) is found before any
/// training. Each record is appended under a lock, whole or not at all: a write that fails part-way (a full disk)
/// is truncated back to the record before it, and the error names the real cause. The signal thread appends the
/// `interrupted` record under the same lock and ends the process without releasing it (``appendLast(_:then:)``),
/// so nothing is ever appended after it.
public final class RunLog: Sendable {
    /// The log's path.
    public let path: String
    private let descriptor: Int32
    /// True when the file held nothing when it was opened.
    public let wasEmpty: Bool
    private let lock = Mutex<Void>(())

    /// Opens `path` for writing, creating it. A resumed run (`continuing`) appends to the log it continues, after
    /// ``prepareToContinue(acceptingHeader:)``; a new run refuses a log that already holds records unless
    /// `overwrite` (a finished run is never lost silently). Opening never blocks: a FIFO, a device or anything but
    /// a regular file is refused.
    /// - Throws: ``JobFailure`` of kind `.output` naming the path and the system's reason, or the refusal.
    public init(path: String, continuing: Bool = false, overwrite: Bool = false) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0o644)
        guard descriptor >= 0 else {
            throw JobFailure(.output, "cannot write the run log '\(path)': \(SystemError().reason)")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let failure = SystemError()
            close(descriptor)
            throw JobFailure(.output, "cannot write the run log '\(path)': \(failure.reason)")
        }
        let kind = FileKind(mode: status.st_mode)
        guard kind == .regular else {
            close(descriptor)
            throw JobFailure(.output, "cannot write the run log '\(path)': it is \(kind.noun), not a regular file")
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        wasEmpty = status.st_size == 0
        // Every stored property is set from here on, so a throw runs deinit, which closes the descriptor: closing
        // it here too closed it twice, and the second close could take a descriptor another thread had just opened.
        guard !continuing else { return }
        if status.st_size > 0 && !overwrite {
            throw JobFailure(.output, "the run log '\(path)' already holds a run: give \(Setting.overwriteLog) to replace it, "
                + "or \(Setting.resumePath) CHECKPOINT to continue it")
        }
        guard ftruncate(descriptor, 0) == 0 else {
            throw JobFailure(.output, "cannot empty the run log '\(path)': \(SystemError().reason)")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Readies a resumed run's log: an empty file needs a header (returns true); a file that holds records must
    /// start with a header that `check` accepts (it returns why the header's run is not this one, if it is not),
    /// and a torn last line (a record cut by a crash or a full disk) is removed, with a note on stderr.
    /// - Throws: ``JobFailure`` of kind `.output` when the file is not this run's log or cannot be read.
    public func prepareToContinue(acceptingHeader check: (HeaderRecord) -> String?) throws -> Bool {
        guard !wasEmpty else { return true }
        func refuse(_ problem: String) -> JobFailure {
            JobFailure(.output, "the run log '\(path)' \(problem): give the log of the run being resumed, or a new "
                + "\(Setting.logPath) file")
        }
        let size = try fileSize()
        let start = try InputFile.read(descriptor, from: 0, count: min(size, 1 << 20), path: path, what: "run log")
        guard let newline = start.firstIndex(of: UInt8(ascii: "\n")),
              let header = try? JSONFormat.decoder().decode(HeaderRecord.self, from: Data(start[..<newline])),
              header.type == "header"
        else {
            throw refuse("does not start with a run log header")
        }
        guard header.schema == RunLogSchema.version else {
            throw refuse("has schema \(header.schema); this airfoil-dp writes \(RunLogSchema.version)")
        }
        if let problem = check(header) { throw refuse("holds a run that \(problem)") }
        let kept = try lengthOfWholeLines(size: size)
        if kept < size {
            guard ftruncate(descriptor, off_t(kept)) == 0 else {
                throw JobFailure(.output, "cannot repair the run log '\(path)': \(SystemError().reason)")
            }
            Console.err("airfoil-dp: note: the run log '\(path)' ended in a torn record (\(size - kept) bytes without "
                + "a line end, left by a crash or a full disk); removed it\n")
        }
        return false
    }

    /// Appends one record as one line, whole or not at all.
    /// - Throws: ``JobFailure`` of kind `.output` with the system's reason.
    public func append(_ record: some Encodable) throws {
        let line = try Self.encode(record)
        try lock.withLock { _ in try writeLocked(line) }
    }

    /// Appends `record` and calls `finish` (which ends the process) while still holding the lock, so that no other
    /// thread can append after it. For the signal thread; a failed write is dropped (the process is ending).
    public func appendLast(_ record: some Encodable, then finish: () -> Never) -> Never {
        let line = try? Self.encode(record)
        return lock.withLock { _ -> Never in
            if let line { try? writeLocked(line) }
            finish()
        }
    }

    private static func encode(_ record: some Encodable) throws -> [UInt8] {
        var line = [UInt8](try JSONFormat.encoder().encode(record))
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Writes `line` at the end; on failure, truncates the file back to where it ended before.
    private func writeLocked(_ line: [UInt8]) throws {
        let before = try fileSize()
        guard let failure = line.withUnsafeBytes({ writeAll($0, to: descriptor) }) else { return }
        let restored = ftruncate(descriptor, off_t(before)) == 0
        throw JobFailure(.output, "cannot write the run log '\(path)': \(failure.reason)"
            + (restored ? " (the partial record was removed)" : ""))
    }

    private func fileSize() throws -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw JobFailure(.output, "cannot write the run log '\(path)': \(SystemError().reason)")
        }
        return Int(status.st_size)
    }

    /// The length of the file up to and including its last line end (0 when it has none).
    private func lengthOfWholeLines(size: Int) throws -> Int {
        var end = size
        while end > 0 {
            let start = max(end - 65_536, 0)
            let chunk = try InputFile.read(descriptor, from: start, count: end - start, path: path, what: "run log")
            if end == size, chunk.last == UInt8(ascii: "\n") { return size }
            if let newline = chunk.lastIndex(of: UInt8(ascii: "\n")) { return start + newline + 1 }
            end = start
        }
        return 0
    }
}
