import Foundation

/// Unbuffered writes to standard output and standard error, safe under Swift 6 concurrency checking.
///
/// Writing straight to the file descriptor means a line is out as soon as it is written, also when the stream is
/// a pipe (as under `mpirun`) and also when the process ends through `MPI_Abort`.
public enum Console {
    /// Writes `line` and a newline to standard output.
    public static func out(_ line: String) {
        write(fileDescriptor: 1, line + "\n")
    }

    /// Writes `text` to standard error as it is (no newline added).
    public static func err(_ text: String) {
        write(fileDescriptor: 2, text)
    }

    /// Writes one `airfoil-dp: ...` error line to standard error, naming the rank in a multi-rank job.
    public static func error(_ message: String, rank: Int, size: Int) {
        let prefix = size > 1 ? "airfoil-dp: rank \(rank): error: " : "airfoil-dp: error: "
        err(prefix + message + "\n")
    }

    /// True when standard error is a terminal (not a pipe or a file).
    public static var standardErrorIsTerminal: Bool { isatty(2) == 1 }

    /// Writes all of `text`; a failure to write to the terminal or pipe has nowhere to be reported, so it is dropped.
    private static func write(fileDescriptor: Int32, _ text: String) {
        var text = text
        _ = text.withUTF8 { bytes in writeAll(UnsafeRawBufferPointer(bytes), to: fileDescriptor) }
    }
}
