import Common
import Foundation
import MPI

/// Loads a rank's rows of a data file by reading about its share of the bytes, not the whole file.
///
/// The file is split into P byte ranges; a row belongs to the range where it starts. Each rank reads its range
/// (and the rest of the row that crosses its end), validates and counts its rows and lines and sums their column
/// statistics. One allreduce of the counts numbers every row and line globally (an exclusive scan), so an error
/// names the file's own line. Each rank then knows which rows every other rank trains on, and tells it the byte
/// span of those that lie in its range (one all-to-all: each rank sends and receives a few numbers per rank, so
/// the exchange stays linear in the rank count); the other rank reads exactly those bytes. Every rank also reads
/// the file's first line itself (the delimiter, the column count and the statistics' reference row).
enum FileShardReader {
    /// Reads this rank's rows; `admit` sees the rows every rank will hold once they are counted, before any is
    /// kept, and may refuse them (the memory check).
    static func read(file: DataFile, requestedRows: Int?, requestedBy: String, validationRows: Int, defaultRows: Int,
                     collective: some Collective, admit: (ShardShape) throws -> Void) throws -> RawShard
    {
        let path = file.path
        let first = try collective.agree { try file.firstRow() }
        let format = first.format
        let rank = collective.rank
        let ranks = collective.size

        // This rank's byte range, read and parsed a chunk at a time, with the whole of the row that crosses its end.
        let start = Int(Int64(file.size) * Int64(rank) / Int64(ranks))
        let end = Int(Int64(file.size) * Int64(rank + 1) / Int64(ranks))
        var statistics = ColumnStatistics(shift: first.values)
        let range = try collective.agree {
            // One rank exchanges no spans, so it keeps no row starts.
            try RangeRows(file: file, start: start, end: end, format: format, statistics: &statistics,
                          rowStarts: ranks > 1)
        }

        // Global row and line numbers: one allreduce of every rank's counts.
        var counts = [Int64](repeating: 0, count: 3 * ranks)
        counts[3 * rank] = Int64(range.rows)
        counts[3 * rank + 1] = Int64(range.lines)
        counts[3 * rank + 2] = Int64(range.problem.map { $0.line + 1 } ?? 0)
        try collective.allreduce(&counts, .sum)
        let linesBefore = (0..<rank).reduce(0) { $0 + Int(counts[3 * $1 + 1]) }
        let rowsBefore = (0..<rank).reduce(0) { $0 + Int(counts[3 * $1]) }
        let fileRows = (0..<ranks).reduce(0) { $0 + Int(counts[3 * $1]) }
        try collective.agree {
            if let problem = range.problem {
                throw JobFailure(.invalidData, "data file '\(path)' line \(linesBefore + problem.line + 1): \(problem.problem)")
            }
        }
        var packed = statistics.packed
        try collective.allreduce(&packed, .sum)
        statistics.unpack(packed)
        let standardisation = Result { () throws(JobFailure) in try statistics.standardisation(source: path) }
        let plan = try collective.agree {
            let plan = try ShardPlan.make(
                requested: requestedRows, requestedBy: requestedBy, validationRows: validationRows,
                available: fileRows, defaultRows: defaultRows, ranks: ranks, source: path)
            try admit(plan.shape(columns: format.columns))
            return plan
        }

        // Tell every rank the byte span of its rows that lie in this rank's range: (first row, start, end) for its
        // training rows and for its held-out rows, -1 where there are none.
        let mine = rowsBefore..<(rowsBefore + range.rows)
        var spans = [Int64](repeating: -1, count: ranks * 6)
        for other in 0..<ranks {
            for (part, wanted) in [plan.training(of: other), plan.validation(of: other)].enumerated() {
                let overlap = mine.clamped(to: wanted)
                guard !overlap.isEmpty else { continue }
                let slot = other * 6 + part * 3
                // A rank's own rows come from its chunks, not from their bytes.
                let bytes = other == rank ? 0..<0
                    : range.span(of: (overlap.lowerBound - rowsBefore)..<(overlap.upperBound - rowsBefore))
                spans[slot] = Int64(overlap.lowerBound)
                spans[slot + 1] = Int64(bytes.lowerBound)
                spans[slot + 2] = Int64(bytes.upperBound)
            }
        }
        let received = try collective.alltoall(spans, countPerRank: 6)
        // Each part's values in row order: slices of this rank's own chunks (no copy) and the rows other ranks'
        // ranges hold, parsed here.
        var parts: [[ArraySlice<Double>]] = [[], []]
        let columns = format.columns
        try collective.agree {
            for owner in 0..<ranks {
                for part in 0..<2 {
                    let slot = owner * 6 + part * 3
                    guard received[slot] >= 0 else { continue }
                    if owner == rank {
                        let rows = mine.clamped(to: part == 0 ? plan.training(of: rank) : plan.validation(of: rank))
                        parts[part] += range.values(
                            of: (rows.lowerBound - rowsBefore)..<(rows.upperBound - rowsBefore), columns: columns)
                        continue
                    }
                    let span = Int(received[slot + 1])..<Int(received[slot + 2])
                    let text = try file.read(from: span.lowerBound, count: span.count)
                    var values: [Double] = []
                    try text.withUnsafeBytes { buffer in
                        let result = DelimitedParser.scanRows(buffer[...], format: format) { _, row, _ in
                            values.append(contentsOf: row)
                        }
                        if result.problem != nil {
                            throw JobFailure(.runtime, "data file '\(path)' changed while it was being read")
                        }
                    }
                    parts[part].append(values[...])
                }
            }
            let training = plan.training(of: rank)
            let validation = plan.validation(of: rank)
            guard parts[0].reduce(0, { $0 + $1.count }) == training.count * columns,
                  parts[1].reduce(0, { $0 + $1.count }) == validation.count * columns
            else {
                throw JobFailure(.runtime, "data file '\(path)' changed while it was being read")
            }
        }
        return RawShard(
            dataRows: fileRows, columns: format.columns, trainingRows: plan.trainingRows,
            training: plan.training(of: rank), trainingValues: .raw(parts[0]), validationTotal: plan.validationRows,
            validation: plan.validation(of: rank), validationValues: .raw(parts[1]), standardisation: standardisation,
            bytesRead: file.bytesRead)
    }
}

/// An open data file whose reads are counted.
final class DataFile {
    let path: String
    let size: Int
    private let descriptor: Int32
    /// Every byte read so far, re-reads included.
    private(set) var bytesRead = 0

    /// Opens `path` for reading, without blocking: anything but a regular file is refused.
    /// - Throws: ``JobFailure`` of kind `.missingData` saying how to get the file.
    init(path: String) throws {
        self.path = path
        (descriptor, size, _) = try InputFile.open(
            path, what: "data file", missingHint: " (pass \(Setting.dataPath) PATH, set \(DataLocation.environmentVariable), or run "
                + "'airfoil-dp fetch-data' to download it into data/)")
    }

    func close() { _ = Foundation.close(descriptor) }

    /// Reads up to `count` bytes at `offset` (fewer only at the end of the file).
    func read(from offset: Int, count: Int) throws -> [UInt8] {
        let bytes = try InputFile.read(descriptor, from: offset, count: count, path: path, what: "data file")
        bytesRead += bytes.count
        return bytes
    }

    /// Fills `buffer` with the bytes at `offset`.
    /// - Throws: ``JobFailure``: `.missingData` when the file cannot be read, `.runtime` when it ends first (it
    ///   shrank while it was being read).
    func read(into buffer: UnsafeMutableRawBufferPointer, from offset: Int) throws {
        let got = try InputFile.read(descriptor, into: buffer, from: offset, path: path, what: "data file")
        bytesRead += got
        guard got == buffer.count else { throw JobFailure(.runtime, "data file '\(path)' changed while it was being read") }
    }

    /// Fills `buffer` from `offset` as far as the file goes, and returns the bytes read.
    func readAvailable(into buffer: UnsafeMutableRawBufferPointer, from offset: Int) throws -> Int {
        let got = try InputFile.read(descriptor, into: buffer, from: offset, path: path, what: "data file")
        bytesRead += got
        return got
    }

    /// The header of a binary data file, checked against the file's size.
    /// - Throws: ``JobFailure`` of kind `.invalidData` (one line) when it is damaged.
    func binaryHeader() throws -> BinaryDataHeader {
        let fixed = try read(from: 0, count: BinaryDataHeader.fixedBytes)
        let length = try BinaryDataHeader.headerLength(fixedPart: fixed, fileSize: size, source: path)
        return try BinaryDataHeader.decode(try read(from: 0, count: length), fileSize: size, source: path)
    }

    /// Appends bytes from `offset` up to and including the next line end (or the end of the file).
    func extendToLineEnd(_ bytes: inout [UInt8], from offset: Int) throws {
        var position = offset
        while position < size {
            let chunk = try read(from: position, count: 4096)
            guard !chunk.isEmpty else { return }
            if let newline = chunk.firstIndex(of: DelimitedParser.newline) {
                bytes += chunk[...newline]
                return
            }
            bytes += chunk
            position += chunk.count
        }
    }

    /// The first row's format and values.
    /// - Throws: ``JobFailure`` of kind `.invalidData` when the file has no row, or the row is not one.
    func firstRow() throws -> (format: DelimitedParser.Format, values: [Double]) {
        guard let first = try firstLine() else {
            throw JobFailure(.invalidData, "data file '\(path)' is empty: it has no rows")
        }
        return (first.format, first.values)
    }

    /// The first non-blank line's format and values, reading from the start until that line is complete.
    func firstLine() throws -> (format: DelimitedParser.Format, lineNumber: Int, values: [Double])? {
        var prefix: [UInt8] = []
        while true {
            let chunk = try read(from: prefix.count, count: 4096)
            prefix += chunk
            let atEnd = chunk.isEmpty || prefix.count >= size
            if let lineEnd = Self.endOfFirstNonBlankLine(prefix) ?? (atEnd ? prefix.count : nil) {
                return try prefix[..<lineEnd].withUnsafeBytes {
                    try DelimitedParser.firstLine(of: $0, source: path)
                }
            }
        }
    }

    /// The index after the line end of the first non-blank line, if that line is complete in `bytes`.
    private static func endOfFirstNonBlankLine(_ bytes: [UInt8]) -> Int? {
        var start = 0
        while let newline = bytes[start...].firstIndex(of: DelimitedParser.newline) {
            if bytes[start..<newline].contains(where: { ![32, 13, 9].contains($0) }) { return newline + 1 }
            start = newline + 1
        }
        return nil
    }
}
