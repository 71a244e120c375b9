/// A reason the job cannot go on, with the exit code that tells its kind to scripts.
///
/// Every failure the trainer can foresee is one of these; ``Collective/agree(_:)`` turns one rank's failure
/// into a decision all ranks take together, so that no rank is left waiting in a collective.
public struct JobFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; each kind has its own exit code.
    public enum Kind: Int32, CaseIterable, Sendable {
        /// A bad option, or options that do not fit the data or the rank count.
        case usage = 64
        /// The data file is there but is not a valid table.
        case invalidData = 65
        /// The data file is missing or cannot be read.
        case missingData = 66
        /// Something failed at run time (an MPI error, an I/O error mid-run).
        case runtime = 70
        /// An output file (the run log) cannot be created or written.
        case output = 73
        /// Training diverged: the loss or the gradient stopped being finite, or the loss grew past its start.
        case diverged = 3
        /// A graceful signal (SIGUSR1, or SIGTERM with `--graceful-signal TERM`) stopped every rank at a step
        /// boundary after a checkpoint: "resume me" (`EX_TEMPFAIL`).
        case preempted = 75

        /// A few words for help texts and documentation.
        public var summary: String {
            switch self {
            case .usage: "usage (a bad option, or options that do not fit the data, the ranks or each other)"
            case .invalidData: "invalid data, checkpoint, model file or result"
            case .missingData: "an input missing, unreadable or not a regular file"
            case .runtime: "runtime failure (MPI, a stalled collective, ranks that disagree)"
            case .output: "output not writable (or a run log that holds another run)"
            case .diverged: "training diverged"
            case .preempted: "stopped at a step boundary by a graceful signal, checkpointed: resume me"
            }
        }
    }

    /// The exit codes of `kinds` for a command's help, in order of code: "0 done, 3 diverged, 64 usage, ...",
    /// then `extra` (exit codes that are no failure kind, such as those of signals).
    public static func exitCodeHelp(_ kinds: [Kind], extra: [String] = []) -> String {
        let listed = kinds.sorted { $0.rawValue < $1.rawValue }.map { "\($0.rawValue) \($0.summary)" }
        return (["0 done"] + listed + extra).joined(separator: ", ")
    }

    /// The kind, which decides the exit code.
    public let kind: Kind
    /// One line naming the problem.
    public let message: String
    /// True when the message has already been printed (by the rank that found it).
    public let reported: Bool

    /// Creates a failure that has not been printed yet.
    public init(_ kind: Kind, _ message: String) {
        self.init(kind: kind, message: message, reported: false)
    }

    /// Creates a failure; line breaks and other control characters in `message` (a message quotes the paths, names
    /// and values a user gave) are written as escapes, so it stays one line.
    public init(kind: Kind, message: String, reported: Bool) {
        self.kind = kind
        self.message = Self.oneLine(message)
        self.reported = reported
    }

    /// `text` with each control character but the tab written as an escape: `\n`, `\r`, else `\u{1B}`.
    static func oneLine(_ text: String) -> String {
        let isControl = { (scalar: Unicode.Scalar) in scalar.properties.generalCategory == .control && scalar != "\t" }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var line = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case _ where isControl(scalar): line += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: line.unicodeScalars.append(scalar)
            }
        }
        return line
    }

    /// The process exit code for this failure.
    public var exitCode: Int32 { kind.rawValue }

    public var description: String { message }
}
