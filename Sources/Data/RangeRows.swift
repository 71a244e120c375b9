import Common
import Foundation

/// The rows that start in one rank's byte range of a text data file, parsed a chunk at a time.
///
/// The range is read in chunks of whole lines through one reused buffer (a line that crosses a chunk's end waits
/// for the next), so a rank never holds its range's text: only each chunk's values, in arrays of exactly their
/// size, and every row's starting offset, which is all the span exchange needs. The buffer stays in cache while
/// its lines are counted and parsed, and no page of it is faulted in twice.
struct RangeRows {
    /// Each chunk's rows' values, one after another.
    private(set) var chunks: [[Double]] = []
    /// The number of rows before each chunk's first, and the total last.
    private var chunkStarts = [0]
    /// Every row's first byte (file offset), when asked for: only the span exchange between ranks needs them.
    private(set) var rowStarts: [Int] = []
    private var recordsRowStarts = true
    /// The file offset just past the range's last line (the end of the line that crosses the range's end).
    private(set) var end = 0
    /// Lines scanned, blank ones included, and the first problem (its line counted from the range's first line).
    private(set) var lines = 0
    private(set) var problem: DelimitedParser.LineProblem?

    var rows: Int { chunkStarts.last! }

    /// Bytes read at a time: large enough that a read costs little beside its parsing, small enough to stay in
    /// the cache.
    static let chunkBytes = 4 << 20

    /// Parses the rows that start in `start ..< end` of `file` (a row belongs to the range where it starts),
    /// adding each chunk's values to `statistics`; records where each row starts when `rowStarts` (for
    /// ``span(of:)``).
    init(file: DataFile, start: Int, end: Int, format: DelimitedParser.Format, statistics: inout ColumnStatistics,
         rowStarts: Bool) throws
    {
        recordsRowStarts = rowStarts
        self.end = try Self.forEachLines(of: file, start: start, end: end) { lines, offset in
            parse(lines, offset: offset, format: format, statistics: &statistics)
        }
    }

    /// The rows and lines of a whole file, validated a chunk at a time and not kept (`info --shape`), and its
    /// first problem.
    static func count(_ file: DataFile, format: DelimitedParser.Format) throws -> DelimitedParser.ScanResult {
        var total = DelimitedParser.ScanResult(lines: 0, rows: 0, problem: nil)
        _ = try forEachLines(of: file, start: 0, end: file.size) { lines, _ in
            let scan = DelimitedParser.scanRows(lines, format: format) { _, _, _ in }
            if total.problem == nil, let found = scan.problem {
                total.problem = .init(line: total.lines + found.line, problem: found.problem)
            }
            total.lines += scan.lines
            total.rows += scan.rows
        }
        return total
    }

    /// Reads the lines that start in `start ..< end` of `file` in chunks of whole lines (the last may lack its
    /// line end) through one reused buffer, handing each chunk to `body` with the file offset of the buffer's
    /// first byte; returns the file offset just past the last line.
    private static func forEachLines(
        of file: DataFile, start: Int, end: Int, _ body: (Slice<UnsafeRawBufferPointer>, Int) throws -> Void
    ) throws -> Int {
        // The buffer holds `filled` bytes of the file from `offset`; `position` is the next byte to read. Past the
        // range's end (`extending`), small reads look for the end of the line that crosses it. A range smaller
        // than a chunk gets a buffer of its size (it grows if a line needs more).
        let readStart = max(start - 1, 0)
        var buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: min(Self.chunkBytes, end - readStart + 1), alignment: 64)
        defer { buffer.deallocate() }
        var (offset, filled, position) = (readStart, 0, readStart)
        var extending = false
        var finished = false
        // A range after the first begins with the rest of a line that started before it, up to its line end.
        var skipping = start > 0
        while !finished {
            if filled == buffer.count {  // a line longer than the buffer
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * buffer.count, alignment: 64)
                larger.copyMemory(from: UnsafeRawBufferPointer(buffer))
                buffer.deallocate()
                buffer = larger
            }
            if !extending {
                let count = min(buffer.count - filled, end - position)
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + count)]), from: position)
                (filled, position) = (filled + count, position + count)
                if position == end {
                    // The range ends on a line end or at the file's end, or the line that crosses it must end.
                    if end == file.size || buffer[filled - 1] == DelimitedParser.newline { finished = true } else { extending = true }
                }
            } else {
                let count = min(buffer.count - filled, 4096, file.size - position)
                let got = try file.readAvailable(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + count)]), from: position)
                if let newline = Self.firstNewline(in: buffer, from: filled, to: filled + got) {
                    filled = newline + 1
                    finished = true
                } else {
                    (filled, position) = (filled + got, position + got)
                    finished = got == 0 || position >= file.size
                }
            }
            // Whole lines: up to the last line end (everything once finished).
            let whole = finished ? filled : (Self.lastNewline(in: buffer, before: filled).map { $0 + 1 } ?? 0)
            var first = 0
            if skipping && whole > 0 {
                let newline = Self.firstNewline(in: buffer, from: 0, to: whole)
                guard let newline, offset + newline < end else { break }  // no line starts in the range
                first = newline + 1
                skipping = false
            }
            if whole > first { try body(UnsafeRawBufferPointer(buffer)[first..<whole], offset) }
            (offset, filled) = (offset + whole, filled - whole)
            if filled > 0 { Self.moveTail(buffer, from: whole, count: filled) }
        }
        return offset
    }

    /// Parses whole lines (`bytes`, of a buffer whose first byte is the file's `offset`).
    private mutating func parse(
        _ bytes: Slice<UnsafeRawBufferPointer>, offset: Int, format: DelimitedParser.Format,
        statistics: inout ColumnStatistics
    ) {
        guard problem == nil else {
            // Past a problem the job fails; the lines are still counted, for the global line numbers.
            lines += DelimitedParser.lineEnds(in: bytes) + (bytes.last == DelimitedParser.newline ? 0 : 1)
            return
        }
        let rowsAtMost = DelimitedParser.lineEnds(in: bytes) + 1
        let columns = format.columns
        var scan = DelimitedParser.ScanResult(lines: 0, rows: 0, problem: nil)
        let firstRow = rows
        if recordsRowStarts && rowStarts.capacity < firstRow + rowsAtMost {  // geometrically: reserving exactly would copy every chunk
            rowStarts.reserveCapacity(max(firstRow + rowsAtMost, 2 * rowStarts.capacity))
        }
        let values = [Double](unsafeUninitializedCapacity: rowsAtMost * columns) { values, written in
            HugePages.advise(UnsafeMutableRawPointer(values.baseAddress), bytes: values.count * 8)
            scan = DelimitedParser.scanRows(bytes, format: format) { row, parsed, span in
                let target = values.baseAddress! + row * columns
                for column in 0..<columns { target[column] = parsed[column] }
                if recordsRowStarts { rowStarts.append(offset + span.lowerBound) }
            }
            written = scan.rows * columns
        }
        values.withUnsafeBufferPointer { statistics.add(rows: $0) }
        if let found = scan.problem { problem = .init(line: self.lines + found.line, problem: found.problem) }
        self.lines += scan.lines
        chunks.append(values)
        chunkStarts.append(firstRow + scan.rows)
    }

    /// The values of rows `rows` (numbered within the range), as slices of the chunks: no copy.
    func values(of rows: Range<Int>, columns: Int) -> [ArraySlice<Double>] {
        var slices: [ArraySlice<Double>] = []
        for (index, chunk) in chunks.enumerated() {
            let chunkRows = chunkStarts[index]..<chunkStarts[index + 1]
            let overlap = chunkRows.clamped(to: rows)
            guard !overlap.isEmpty else { continue }
            let base = chunkRows.lowerBound
            slices.append(chunk[((overlap.lowerBound - base) * columns)..<((overlap.upperBound - base) * columns)])
        }
        return slices
    }

    /// The file bytes of rows `rows` (numbered within the range): from the first's start to the next row's start
    /// (blank lines between included), or to the range's end. Needs the row starts recorded.
    func span(of rows: Range<Int>) -> Range<Int> {
        precondition(recordsRowStarts, "row starts were not recorded")
        return rowStarts[rows.lowerBound]..<(rows.upperBound < rowStarts.count ? rowStarts[rows.upperBound] : end)
    }

    private static func firstNewline(in buffer: UnsafeMutableRawBufferPointer, from: Int, to: Int) -> Int? {
        guard to > from, let found = memchr(buffer.baseAddress! + from, Int32(DelimitedParser.newline), to - from)
        else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(buffer.baseAddress!)
    }

    private static func lastNewline(in buffer: UnsafeMutableRawBufferPointer, before: Int) -> Int? {
        // Backwards from the end: the partial line after the last line end is short.
        var index = before - 1
        while index >= 0 && buffer[index] != DelimitedParser.newline { index -= 1 }
        return index >= 0 ? index : nil
    }

    private static func moveTail(_ buffer: UnsafeMutableRawBufferPointer, from: Int, count: Int) {
        buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + from, byteCount: count)
    }
}
