import Foundation

/// The memory a host can give a job, and the refusal of a run that would not fit, made before anything large is
/// allocated: a shape that cannot fit would otherwise end in the kernel's out-of-memory killer or a failed
/// allocation's trap, after minutes of loading, instead of one line.
public enum MemoryBudget {
    /// The host's `MemAvailable` (`/proc/meminfo`), in bytes; nil where the system does not say.
    public static var available: Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kibibytes = Int(fields[1]) else { return nil }
            return kibibytes * 1024
        }
        return nil
    }

    /// Checks that `processes` processes of `bytesEach` fit in `limit` bytes, or in the host's available memory.
    /// - Throws: ``JobFailure`` of kind `.usage` naming the estimate, the limit and the way out.
    public static func check(bytesEach: Double, processes: Int, host: String, limit: Int?, what: String) throws {
        guard let budget = limit ?? available else { return }
        let total = bytesEach * Double(processes)
        guard total > Double(budget) else { return }
        let ranks = processes == 1 ? "" : " x \(processes) ranks on host '\(host)' = \(format(total))"
        let source = limit == nil ? "the \(format(Double(budget))) available (MemAvailable)" : "\(Setting.maximumMemory) \(format(Double(budget)))"
        throw JobFailure(.usage, "\(what) needs about \(format(bytesEach)) of memory per rank\(ranks), more than "
            + "\(source): use fewer rows, a smaller model or more hosts, or set the limit with \(Setting.maximumMemory)")
    }

    /// The limit `--max-memory` gives, in bytes (nil when it is not given).
    /// - Throws: ``JobFailure`` of kind `.usage` naming a value that is not a size.
    public static func limit(option text: String?) throws -> Int? {
        guard let text else { return nil }
        guard let bytes = parse(text) else {
            throw JobFailure(.usage, "\(Setting.maximumMemory) '\(text)' is not a size such as 512M, 64G or 1T")
        }
        return bytes
    }

    /// Parses a size such as `512M`, `64G`, `1.5T` or a plain number of bytes (K, M, G and T are powers of 1024).
    public static func parse(_ text: String) -> Int? {
        let units: [Character: Double] = ["K": 0x1p10, "M": 0x1p20, "G": 0x1p30, "T": 0x1p40]
        var number = Substring(text.uppercased())
        var scale = 1.0
        if let last = number.last, let unit = units[last] {
            scale = unit
            number = number.dropLast()
        }
        guard let value = Double(number), value.isFinite, value > 0, value * scale < 0x1p62 else { return nil }
        return Int(value * scale)
    }

    /// Bytes as a short decimal figure with a binary unit ("72.0 TiB").
    public static func format(_ bytes: Double) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = bytes
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
