import Common
import Data
import Foundation
import MPI
import TestSupport
import Testing

/// Text files larger than the reader's 4 MiB chunks: lines that cross a chunk's end, a line longer than a chunk, a
/// problem in a late chunk.
@Suite("Text read a chunk at a time")
struct TextChunkTests {
    /// The lines of a table of `rows` rows of six columns (about 56 bytes each, so 200,000 rows span three chunks),
    /// with two blank lines after every 50,000th row.
    static func lines(rows: Int) -> [String] {
        var random = TestRandom(state: 11)
        var lines: [String] = []
        for row in 0..<rows {
            lines.append((0..<6).map { _ in String(format: "%.6f", Double(random.float()) * 1000) }.joined(separator: "\t"))
            if row % 50_000 == 7 { lines += ["", "  "] }
        }
        return lines
    }

    /// Writes `lines` (CRLF) and returns the file's path.
    func write(_ lines: [String]) throws -> String {
        let path = try SharedData.temporaryDirectory().appendingPathComponent("table.tsv").path
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Checks that a one-rank load of `rows` rows of the file at `path` equals its rows parsed whole and
    /// standardised independently, bit for bit.
    func expectSameAsWhole(_ path: String, rows: Int) throws {
        let read = try TrainingShard.load(path: path, requestedRows: rows, validationRows: 0, collective: SingleProcess())
        var values: [Double] = []
        var first: [Double] = []
        let shape = try DelimitedParser.parse(try Array(Data(contentsOf: URL(fileURLWithPath: path))), source: path) {
            row, parsed in
            if row == 0 { first = parsed }
            values += parsed
        }
        var statistics = ColumnStatistics(shift: first)
        values.withUnsafeBufferPointer { statistics.add(rows: $0) }
        let whole = TrainingShard.standardise(Array(values[..<(rows * shape.columns)]), columns: shape.columns,
                                              means: statistics.means, deviations: statistics.standardDeviations)
        #expect(read.fileRows == shape.rows && read.inputs == whole.inputs && read.targets == whole.targets)
    }

    @Test("rows that cross chunk ends load to the bits of the whole file parsed at once")
    func acrossChunks() throws {
        let path = try write(Self.lines(rows: 200_000))
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int > 2 * (4 << 20))
        try expectSameAsWhole(path, rows: 200_000)
    }

    @Test("a line longer than a chunk is read whole")
    func longLine() throws {
        // The first field of the third row carries five million leading zeros: a line of about 5 MB.
        var lines = Self.lines(rows: 20)
        lines[2] = String(repeating: "0", count: 5_000_000) + lines[2]
        try expectSameAsWhole(try write(lines), rows: 20)
    }

    @Test("a problem in a late chunk is named by its own line")
    func lateProblem() throws {
        var lines = Self.lines(rows: 200_000)
        lines[180_000] = "1\t2\tnope\t4\t5\t6"
        let path = try write(lines)
        do {
            _ = try TrainingShard.load(path: path, requestedRows: nil, validationRows: 0, collective: SingleProcess())
            Issue.record("the bad line was accepted")
        } catch let failure as JobFailure {
            #expect(failure.message == "data file '\(path)' line 180001: column 3: 'nope' is not a number",
                    "\(failure.message)")
        }
    }

    @Test("400 damaged airfoil files: info --shape's chunked count accepts, counts and refuses as the whole-file parser does")
    func countAgreesWithParse() throws {
        let original = Array(SharedData.bytes.prefix(4000))
        var random = TestRandom(state: 77)
        let path = try SharedData.temporaryDirectory().appendingPathComponent("damaged.dat").path
        for _ in 0..<400 {
            var bytes = original
            for _ in 0...random.below(3) {
                let at = random.below(bytes.count + 1)
                switch random.below(6) {
                case 0: bytes = Array(bytes.prefix(at))
                case 1: bytes.insert(contentsOf: [0x0D], at: at)
                case 2: bytes.insert(contentsOf: Array("\n \r\n\n".utf8), at: at)
                case 3: bytes.insert(contentsOf: Array("x".utf8), at: at)
                case 4: if at < bytes.count { bytes.remove(at: at) }
                default: bytes.insert(0, at: at)
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let whole = Result { try DelimitedParser.parse(bytes, source: path) { _, _ in }.rows }
            let counted = Result {
                try TrainingShard.shape(path: path, requestedRows: nil, validationRows: 0).trainingRows  // all: < 1500
            }
            switch (whole, counted) {
            case (.success(let expected), .success(let found)): #expect(found == expected)
            case (.failure(let expected as JobFailure), .failure(let found as JobFailure)):
                #expect(found.message == expected.message)
            default:
                Issue.record("the whole-file parser gave \(whole), the chunked count \(counted)")
            }
        }
    }
}
