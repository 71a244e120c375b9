import Checksums
import Common
import Data
import Foundation
import MPI
import TestSupport
import Testing

@Suite("The binary data format: convert, read, refuse")
struct BinaryDataFileTests {
    /// Synthetic rows that span three blocks of either element (21,845 float64 or 43,690 float32 rows a block).
    static let synthetic = "synthetic:rows=100000,features=5,seed=3"

    /// Converts `source` to a binary file in `folder` and returns its path.
    func convert(_ source: String, _ element: BinaryDataHeader.Element, in folder: URL) throws -> String {
        let path = folder.appendingPathComponent("data-\(element.rawValue).bin").path
        try Data(try BinaryDataConversion.convert(path: source, to: element).file).write(to: URL(fileURLWithPath: path))
        return path
    }

    func load(_ path: String, rows: Int?, validationRows: Int = 0) throws -> TrainingShard {
        try TrainingShard.load(path: path, requestedRows: rows, validationRows: validationRows, collective: SingleProcess())
    }

    /// The failure that loading `path` throws.
    func refusal(_ path: String) -> JobFailure? {
        do {
            _ = try load(path, rows: 100_000)
            return nil
        } catch {
            return error as? JobFailure
        }
    }

    @Test("both elements load to the bits of the text (and the synthetic data) they came from, rows and held-out rows",
          arguments: [BinaryDataHeader.Element.float64, .float32Standardised])
    func loadsToTheSameBits(element: BinaryDataHeader.Element) throws {
        let folder = try SharedData.temporaryDirectory()
        for (source, rows, held) in [(SharedData.path, 1500, 3), (SharedData.path, 1000, 0), (Self.synthetic, 70_001, 29_999)] {
            let binary = try convert(source, element, in: folder)
            let text = try load(source, rows: rows, validationRows: held)
            let read = try load(binary, rows: rows, validationRows: held)
            #expect(read.inputs == text.inputs && read.targets == text.targets, "\(source)")
            #expect(read.validationInputs == text.validationInputs && read.validationTargets == text.validationTargets)
            #expect(read.means == text.means && read.standardDeviations == text.standardDeviations)
            #expect(read.fileRows == text.fileRows && read.features == text.features)
            #expect(read.format == element.formatName && text.format == nil)
        }
    }

    @Test("the float64 body holds the parsed values, and predict's reading of it gives them back")
    func float64KeepsValues() throws {
        let folder = try SharedData.temporaryDirectory()
        let binary = try convert(SharedData.path, .float64, in: folder)
        let text = try LeadingRows.read(path: SharedData.path, rows: 1503)
        let read = try LeadingRows.read(path: binary, rows: 1503)
        #expect(read.columns == 6 && read.values == text.values)
        let float32 = try convert(SharedData.path, .float32Standardised, in: folder)
        #expect(throws: JobFailure.self) { try LeadingRows.read(path: float32, rows: 10) }
        #expect(try TrainingShard.shape(path: binary, requestedRows: nil, validationRows: 0)
            == ShardShape(trainingRows: 1500, validationRows: 0, columns: 6, ranks: 1))
    }

    @Test("a header survives encoding, and every field is checked against the file's size")
    func headerRoundTrip() throws {
        let (file, header) = try BinaryDataConversion.convert(path: Self.synthetic, to: .float64)
        #expect(header.rows == 100_000 && header.columns == 6 && header.blocks == 5 && header.rowsPerBlock == 21_845)
        #expect(file.count == header.fileBytes && BinaryDataHeader.isBinary(file))
        #expect(try BinaryDataHeader.decode(file, fileSize: file.count, source: "f") == header)
        for (problem, bytes, size) in [
            ("cut short", Array(file[..<100]), file.count),
            ("but the file has", file, file.count - 1),
            ("does not start with", [0x41] + file.dropFirst(), file.count),
        ] {
            #expect(throws: JobFailure.self, "\(problem)") { try BinaryDataHeader.decode(bytes, fileSize: size, source: "f") }
        }
    }

    @Test("damaged, edited, truncated and newer files are refused with one line naming the problem")
    func refusesDamage() throws {
        let folder = try SharedData.temporaryDirectory()
        let path = try convert(Self.synthetic, .float64, in: folder)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let header = try BinaryDataHeader.decode(Array(original), fileSize: original.count, source: path)
        func damaged(_ edit: (inout [UInt8]) -> Void) throws -> JobFailure? {
            var bytes = Array(original)
            edit(&bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return refusal(path)
        }
        // A value written over another, with the block's checksum and then the header's recomputed: only the checks
        // of the values can see it.
        func forged(row: Int, column: Int, value: Double) -> (inout [UInt8]) -> Void {
            { bytes in
                let offset = header.headerBytes + (row * header.columns + column) * 8
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange(offset..<(offset + 8), with: $0) }
                var edited = header
                let block = row / header.rowsPerBlock
                let blockRows = header.rows(ofBlock: block)
                let start = header.headerBytes + blockRows.lowerBound * header.rowBytes
                edited.blockChecksums[block] = bytes[start..<(start + blockRows.count * header.rowBytes)]
                    .withUnsafeBytes { BlockChecksum.of($0) }
                bytes.replaceSubrange(0..<header.headerBytes, with: edited.encoded())
            }
        }
        let cases: [(String, (inout [UInt8]) -> Void)] = [
            ("block 2 (rows 43691 to 65535) fails its checksum", { $0[header.headerBytes + 50_000 * 48 + 3] ^= 1 }),
            ("its header fails its checksum", { $0[BinaryDataHeader.fixedBytes + 5] ^= 1 }),
            ("but the file has 4800175 bytes", { $0.removeLast() }),
            ("but the file has 4800177 bytes", { $0.append(0) }),
            ("is binary format version 2; this airfoil-dp reads version 1 (convert the data again, or update)", { $0[8] = 2 }),
            ("element type 3 is neither 1 (float64) nor 2 (float32)", { $0[12] = 3 }),
            ("row 70001 column 4 is not a finite number", forged(row: 70_000, column: 3, value: .nan)),
            ("row 90001 column 6 lies beyond Float's range once standardised by the header's statistics",
             forged(row: 90_000, column: 5, value: 1e300)),
        ]
        for (message, edit) in cases {
            let failure = try damaged(edit)
            #expect(failure?.kind == .invalidData && failure?.message.contains(message) == true
                    && failure?.message.contains("\n") == false, "\(message): \(String(describing: failure))")
        }
        try original.write(to: URL(fileURLWithPath: path))
        #expect(refusal(path) == nil)
    }

    @Test("a header that declares blocks far larger than the file costs no more memory than the file (found by fuzzing)")
    func hugeBlocksDeclared() throws {
        let folder = try SharedData.temporaryDirectory()
        let path = try convert("synthetic:rows=40,features=2", .float64, in: folder)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        var header = try BinaryDataHeader.decode(bytes, fileSize: bytes.count, source: path)
        header.rowsPerBlock = 0x7FFF_FFFF  // one block still, of 40 rows: a 48 GB buffer if sized by the declaration
        bytes.replaceSubrange(0..<header.headerBytes, with: header.encoded())
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try load(path, rows: 40).inputs.count == 40 * 3)
    }

    @Test("a rank reads and verifies only the blocks that hold its rows")
    func readsOnlyItsBlocks() throws {
        let folder = try SharedData.temporaryDirectory()
        let path = try convert(Self.synthetic, .float64, in: folder)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let header = try BinaryDataHeader.decode(bytes, fileSize: bytes.count, source: path)
        bytes[header.headerBytes + 90_000 * header.rowBytes] ^= 1  // block 4
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let shard = try load(path, rows: 40_000)
        #expect(shard.bytesRead[0] < header.headerBytes + 2 * header.rowsPerBlock * header.rowBytes + 64)
        #expect((try? load(path, rows: 95_000)) == nil, "block 4 is damaged")
    }
}
