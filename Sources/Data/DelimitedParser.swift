import Common

/// Reads a table of numbers: one row per line, columns separated by tabs or commas, no header.
///
/// Line ends may be LF or CRLF; blank lines are skipped; spaces around a field are ignored. The delimiter is the
/// first line's (a tab if it has one, else a comma) and so is the column count, which every row must repeat.
/// Every field must be a finite decimal number. Rows are handed to a visitor one at a time, so a caller that
/// keeps only some rows (its shard) never holds the whole table.
public enum DelimitedParser {
    /// The shape of a parsed table.
    public struct Shape: Equatable, Sendable {
        /// The number of data rows (blank lines not counted).
        public var rows: Int
        /// The number of columns of every row.
        public var columns: Int

        /// Creates a shape.
        public init(rows: Int, columns: Int) {
            self.rows = rows
            self.columns = columns
        }
    }

    /// Parses `bytes`, calling `visit(rowIndex, values)` for each row in order.
    ///
    /// - Parameter source: the file name used in error messages.
    /// - Throws: ``JobFailure`` of kind `.invalidData` naming the line (and column) of the first problem.
    @discardableResult
    public static func parse(
        _ bytes: [UInt8], source: String, visit: (Int, [Double]) throws -> Void
    ) throws -> Shape {
        var delimiter: UInt8?
        var columns = 0
        var rowIndex = 0
        var values: [Double] = []
        var lineNumber = 0
        var lineStart = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != newline { lineEnd += 1 }
            let line = bytes[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            if line.allSatisfy(isBlank) { continue }
            func fail(_ problem: String) -> JobFailure {
                JobFailure(.invalidData, "data file '\(source)' line \(lineNumber): \(problem)")
            }
            if delimiter == nil {
                delimiter = line.contains(tab) ? tab : comma
            }
            let fields = line.split(separator: delimiter!, omittingEmptySubsequences: false)
            if columns == 0 {
                guard fields.count >= 2 else {
                    throw fail("expected at least 2 tab- or comma-separated columns (features, then the target)")
                }
                columns = fields.count
                values.reserveCapacity(columns)
            }
            guard fields.count == columns else {
                throw fail("expected \(columns) columns, found \(fields.count)")
            }
            values.removeAll(keepingCapacity: true)
            for (columnIndex, field) in fields.enumerated() {
                let trimmed = field.drop(while: isBlank).reversed().drop(while: isBlank).reversed()
                let text = String(decoding: trimmed, as: UTF8.self)
                guard !trimmed.contains(0), let value = Double(text) else {
                    throw fail("column \(columnIndex + 1): '\(printable(field))' is not a number")
                }
                guard value.isFinite else {
                    throw fail("column \(columnIndex + 1): '\(printable(field))' is not finite")
                }
                values.append(value)
            }
            try visit(rowIndex, values)
            rowIndex += 1
        }
        guard rowIndex > 0 else {
            throw JobFailure(.invalidData, "data file '\(source)' is empty: it has no rows")
        }
        return Shape(rows: rowIndex, columns: columns)
    }

    private static let newline = UInt8(ascii: "\n")
    private static let tab = UInt8(ascii: "\t")
    private static let comma = UInt8(ascii: ",")

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == tab
    }

    /// A short, one-line, escaped rendering of a field for an error message.
    private static func printable<Bytes: Collection<UInt8>>(_ field: Bytes) -> String {
        var text = ""
        for byte in field.prefix(32) {
            switch byte {
            case 0x20..<0x7f where byte != UInt8(ascii: "'") && byte != UInt8(ascii: "\\"):
                text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                text += "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return field.count > 32 ? text + "..." : text
    }
}
