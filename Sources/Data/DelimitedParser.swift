import Common
import Glibc

/// Reads a table of numbers: one row per line, columns separated by tabs or commas, no header.
///
/// Line ends may be LF or CRLF; blank lines are skipped; spaces around a field are ignored. The delimiter is the
/// first line's (a tab if it has one, else a comma) and so is the column count, which every row must repeat.
/// Every field must be a finite decimal number (hexadecimal, `inf` and `nan` are refused). Rows are handed to a visitor one at a time, so a caller that
/// keeps only some rows (its shard) never holds the whole table.
///
/// The line-level core (``format(ofFirstLine:)``, ``scan(_:format:visit:)``) parses any run of whole lines, so a
/// rank can parse just its byte range of a file and number the lines once it knows how many came before.
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

    /// The delimiter and column count every row must follow, fixed by the first non-blank line.
    public struct Format: Equatable, Sendable {
        public var delimiter: UInt8
        public var columns: Int
    }

    /// A problem on one line of a scanned run of lines: the line's index in the run (0-based) and what is wrong.
    public struct LineProblem: Equatable, Sendable {
        public var line: Int
        public var problem: String
    }

    /// What a scan of a run of lines found.
    public struct ScanResult: Sendable {
        /// Lines scanned (blank ones included).
        public var lines: Int
        /// Rows found (blank lines not counted).
        public var rows: Int
        /// The first problem, if any; the scan stops parsing rows there but keeps counting lines.
        public var problem: LineProblem?
    }

    /// Parses `bytes`, calling `visit(rowIndex, values)` for each row in order.
    ///
    /// - Parameter source: the file name used in error messages.
    /// - Throws: ``JobFailure`` of kind `.invalidData` naming the line (and column) of the first problem.
    @discardableResult
    public static func parse(
        _ bytes: [UInt8], source: String, visit: (Int, [Double]) throws -> Void
    ) throws -> Shape {
        guard let first = try bytes.withUnsafeBytes({ try firstLine(of: $0, source: source) }) else {
            throw JobFailure(.invalidData, "data file '\(source)' is empty: it has no rows")
        }
        var visitError: Error?
        let result = bytes.withUnsafeBytes { buffer in
            scan(buffer[...], format: first.format) { row, values, _ in
                do { try visit(row, values) } catch {
                    visitError = visitError ?? error
                }
            }
        }
        if let visitError { throw visitError }
        if let problem = result.problem {
            throw JobFailure(.invalidData, "data file '\(source)' line \(problem.line + 1): \(problem.problem)")
        }
        return Shape(rows: result.rows, columns: first.format.columns)
    }

    /// The format of the first non-blank line of `bytes` and that line's 1-based number, or nil when every line is
    /// blank.
    /// - Throws: ``JobFailure`` of kind `.invalidData` when the first line has fewer than two fields.
    public static func firstLine(of bytes: UnsafeRawBufferPointer, source: String) throws
        -> (format: Format, lineNumber: Int, values: [Double])?
    {
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count && bytes[end] != newline { end += 1 }
            let line = bytes[start..<end]
            start = end + 1
            if line.allSatisfy(isBlank) { continue }
            let delimiter = line.contains(tab) ? tab : comma
            let fields = line.split(separator: delimiter, omittingEmptySubsequences: false).count
            guard fields >= 2 else {
                throw JobFailure(.invalidData, "data file '\(source)' line \(lineNumber): expected at least 2 tab- or "
                    + "comma-separated columns (features, then the target)")
            }
            let format = Format(delimiter: delimiter, columns: fields)
            var values: [Double] = []
            if case .failure(let problem) = parseRow(line, format: format, into: &values) {
                throw JobFailure(.invalidData, "data file '\(source)' line \(lineNumber): \(problem)")
            }
            return (format, lineNumber, values)
        }
        return nil
    }

    /// Scans the whole lines of `bytes` (the last may lack its line end), calling
    /// `visit(rowIndex, values, byteRange)` for every row up to the first problem; byte ranges are positions in
    /// `bytes` and include the line end.
    public static func scan(
        _ bytes: Slice<UnsafeRawBufferPointer>, format: Format, visit: (Int, [Double], Range<Int>) -> Void
    ) -> ScanResult {
        scanRows(bytes, format: format) { row, values, span in visit(row, Array(values), span) }
    }

    /// ``scan(_:format:visit:)`` handing each row's values in a buffer that is valid only during the call.
    ///
    /// Each line is first parsed in one pass over its bytes (``parseRowInPlace(_:limit:format:into:)``); a line
    /// that path does not take whole (a blank line, an error, a field it leaves to the general parser) is found
    /// with `memchr` and goes through ``parseRow(_:format:into:)``, whose result and message define the format.
    static func scanRows(
        _ bytes: Slice<UnsafeRawBufferPointer>, format: Format,
        visit: (Int, UnsafeBufferPointer<Double>, Range<Int>) -> Void
    ) -> ScanResult {
        var result = ScanResult(lines: 0, rows: 0, problem: nil)
        guard let base = bytes.base.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return result }
        let limit = base + bytes.endIndex
        var values: [Double] = []
        withUnsafeTemporaryAllocation(of: Double.self, capacity: format.columns) { row in
            let row = row.baseAddress!
            var start = bytes.startIndex
            while start < bytes.endIndex {
                let lineStart = start
                result.lines += 1
                if result.problem == nil,
                   let lineEnd = parseRowInPlace(base + lineStart, limit: limit, format: format, into: row)
                {
                    let end = lineEnd - base
                    start = end + 1
                    visit(result.rows, UnsafeBufferPointer(start: row, count: format.columns),
                          lineStart..<min(end + 1, bytes.endIndex))
                    result.rows += 1
                    continue
                }
                let end = memchr(base + lineStart, Int32(newline), bytes.endIndex - lineStart)
                    .map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? bytes.endIndex
                start = end + 1
                guard result.problem == nil else { continue }
                let line = bytes.base[lineStart..<end]
                guard !line.allSatisfy(isBlank) else { continue }
                switch parseRow(line, format: format, into: &values) {
                case .failure(let problem):
                    result.problem = LineProblem(line: result.lines - 1, problem: problem.description)
                case .success:
                    values.withUnsafeBufferPointer { visit(result.rows, $0, lineStart..<min(end + 1, bytes.endIndex)) }
                    result.rows += 1
                }
            }
        }
        return result
    }

    /// The line ends (newline bytes) in `bytes`, counted with `memchr`.
    static func lineEnds(in bytes: Slice<UnsafeRawBufferPointer>) -> Int {
        guard let base = bytes.base.baseAddress else { return 0 }
        var count = 0
        var position = bytes.startIndex
        while position < bytes.endIndex,
              let found = memchr(base + position, Int32(newline), bytes.endIndex - position)
        {
            count += 1
            position = UnsafeRawPointer(found) - base + 1
        }
        return count
    }

    /// Parses the line that starts at `line` into `values` (`format.columns` of them) when it holds that many
    /// numbers of ``DecimalNumber``'s grammar, each with blanks around it allowed, separated by the delimiter:
    /// returns where the line ends (its line end, or `limit`). Returns nil, leaving `values` undefined, for anything
    /// else.
    ///
    /// Taking the longest number at each field's start and then only blanks up to the delimiter accepts exactly the
    /// fields that, split at the delimiter and trimmed, are a number of the grammar.
    @inline(__always)
    static func parseRowInPlace(
        _ line: UnsafePointer<UInt8>, limit: UnsafePointer<UInt8>, format: Format,
        into values: UnsafeMutablePointer<Double>
    ) -> UnsafePointer<UInt8>? {
        let delimiter = format.delimiter
        var cursor = line
        for column in 0..<format.columns {
            while cursor < limit && cursor.pointee != delimiter && isBlank(cursor.pointee) { cursor += 1 }
            guard let (value, end) = DecimalNumber.scan(cursor, limit: limit) else { return nil }
            values[column] = value
            cursor = end
            while cursor < limit && cursor.pointee != delimiter && isBlank(cursor.pointee) { cursor += 1 }
            if column < format.columns - 1 {
                guard cursor < limit && cursor.pointee == delimiter else { return nil }
                cursor += 1
            } else {
                guard cursor == limit || cursor.pointee == newline else { return nil }
            }
        }
        return cursor
    }

    /// A problem with one row, as the message after "line N: ".
    public struct RowProblem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Parses one non-blank line into `values` (replacing them).
    static func parseRow(_ line: Slice<UnsafeRawBufferPointer>, format: Format, into values: inout [Double])
        -> Result<Void, RowProblem>
    {
        let fields = line.split(separator: format.delimiter, omittingEmptySubsequences: false)
        guard fields.count == format.columns else {
            return .failure(RowProblem(description: "expected \(format.columns) columns, found \(fields.count)"))
        }
        values.removeAll(keepingCapacity: true)
        for (columnIndex, field) in fields.enumerated() {
            let trimmed = field.drop(while: isBlank).reversed().drop(while: isBlank).reversed()
            let text = String(decoding: trimmed, as: UTF8.self)
            guard !trimmed.contains(0), let value = Double(text) else {
                return .failure(RowProblem(description: "column \(columnIndex + 1): '\(printable(field))' is not a number"))
            }
            guard value.isFinite else {
                return .failure(RowProblem(description: "column \(columnIndex + 1): '\(printable(field))' is not finite"))
            }
            // Swift's parser also reads hexadecimal ("0x10", "0x1p3"); the format is decimal numbers only.
            guard trimmed.allSatisfy(isDecimalCharacter) else {
                return .failure(RowProblem(
                    description: "column \(columnIndex + 1): '\(printable(field))' is not a decimal number"))
            }
            values.append(value)
        }
        return .success(())
    }

    static let newline = UInt8(ascii: "\n")
    private static let tab = UInt8(ascii: "\t")
    private static let comma = UInt8(ascii: ",")

    /// A character of a decimal number: a digit, a point, a sign or an exponent's `e`.
    private static func isDecimalCharacter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }

    @inline(__always)
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
