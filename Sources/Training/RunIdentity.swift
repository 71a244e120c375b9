import Common
import Formats
import Foundation

/// Whether a run log was written by the run a configuration describes, so that a sweep reruns only what it has
/// not done: the header's `config` is compared with the configuration, key by key.
///
/// Where a run's outputs go (log, checkpoints, progress, the stall timeout) does not make it another run; a key
/// the configuration leaves open (`rows` and `global_batch` before the data is read, for example) matches any
/// value, because the run fills it in from the data.
public enum RunIdentity {
    /// Configuration keys that do not change what a run computes.
    static let ignoredKeys: Set<String> = [
        "log_path", "overwrite_log", "progress", "checkpoint_path", "checkpoint_every", "resume_path", "stall_timeout",
        "timeline_path", "timeline_steps",
    ]

    /// The first difference between `configuration` and the header of the log at `path`, as one line, or `nil`
    /// when the log was written by this run.
    /// - Throws: ``JobFailure`` (`.invalidData`) when the file has no readable header.
    public static func difference(_ configuration: TrainingConfiguration, logAt path: String) throws -> String? {
        let start = try InputFile.read(path, what: "run log", limit: 1 << 20)
        let line = Data(start.prefix { $0 != UInt8(ascii: "\n") })
        guard let header = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
              header["type"] as? String == "header", let logged = header["config"] as? [String: Any] else {
            throw JobFailure(.invalidData, "'\(path)' does not start with a run log header")
        }
        let expected = try JSONSerialization.jsonObject(
            with: JSONFormat.encoder().encode(configuration)) as! [String: Any]
        return firstDifference(expected: expected, logged: logged, prefix: "")
    }

    /// The first key, in sorted order, whose value differs, as "KEY is LOGGED in the log, EXPECTED here".
    static func firstDifference(expected: [String: Any], logged: [String: Any], prefix: String) -> String? {
        for key in expected.keys.sorted() where !ignoredKeys.contains(key) {
            let name = prefix + key
            let mine = expected[key]!
            if mine is NSNull { continue }
            guard let theirs = logged[key] else { return "\(name) is missing in the log, \(render(mine)) here" }
            if let mine = mine as? [String: Any], let theirs = theirs as? [String: Any] {
                if let difference = firstDifference(expected: mine, logged: theirs, prefix: name + ".") {
                    return difference
                }
            } else if render(mine) != render(theirs) {
                return "\(name) is \(render(theirs)) in the log, \(render(mine)) here"
            }
        }
        return nil
    }

    /// A value as JSON text (numbers as written, so 0.4 and 0.4 compare equal).
    private static func render(_ value: Any) -> String {
        if let text = value as? String { return "'\(text)'" }
        guard let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]) else {
            return "\(value)"
        }
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
