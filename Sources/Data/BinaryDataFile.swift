import Checksums
import Common

/// The binary data format: a table converted once (`airfoil-dp convert`) and read many times, each rank reading
/// exactly its rows and verifying exactly the blocks it reads.
///
/// Version 1, all integers and floats little-endian:
///
/// | bytes | field |
/// |---|---|
/// | 8 | magic `89 41 46 44 50 0D 0A 1A` (`\x89AFDP\r\n\x1a`: no text file starts so, and a line-ending conversion breaks it) |
/// | 4 | format version (1) |
/// | 4 | element: 1 = float64 raw values, 2 = float32 standardised values |
/// | 8 | rows |
/// | 4 | columns (the features, then the target) |
/// | 4 | rows per block (the last block may be shorter) |
/// | 16 x columns | every column's mean, then its population standard deviation (float64), over all rows |
/// | 8 x blocks | every block's checksum (``BlockChecksum``) |
/// | 8 | the checksum of the header's bytes before it |
/// | rows x columns x element size | the rows, one after another |
///
/// The statistics are those a text run computes exactly (``ColumnStatistics``), so both elements train to the same
/// bits as the text the file was converted from: float64 holds the values as parsed, float32 the standardised
/// values the trainer would compute from them (half the size; `predict`, which standardises with a model's own
/// statistics, needs the float64 form).
public struct BinaryDataHeader: Equatable, Sendable {
    public enum Element: UInt32, Sendable {
        case float64 = 1
        case float32Standardised = 2

        /// Bytes per value.
        public var size: Int { self == .float64 ? 8 : 4 }
        /// The run log's name for the data format (`data.format`).
        public var formatName: String { self == .float64 ? "binary-float64" : "binary-float32" }
    }

    public static let magic: [UInt8] = [0x89, 0x41, 0x46, 0x44, 0x50, 0x0D, 0x0A, 0x1A]
    public static let formatVersion: UInt32 = 1
    /// The bytes before the statistics: magic, version, element, rows, columns, rows per block.
    public static let fixedBytes = 32
    /// The most columns a header may declare (a bound on the header a reader allocates before checking it).
    public static let maximumColumns = 1 << 20

    public var element: Element
    public var rows: Int
    public var columns: Int
    public var rowsPerBlock: Int
    public var means: [Double]
    public var standardDeviations: [Double]
    public var blockChecksums: [UInt64]

    public var blocks: Int { (rows + rowsPerBlock - 1) / rowsPerBlock }
    public var rowBytes: Int { columns * element.size }
    public var headerBytes: Int { Self.fixedBytes + 16 * columns + 8 * blocks + 8 }
    public var fileBytes: Int { headerBytes + rows * rowBytes }
    /// The bytes of the largest block: at most the body's (a header may declare blocks larger than the file).
    public var largestBlockBytes: Int { min(rowsPerBlock, rows) * rowBytes }

    /// The rows of block `block`.
    public func rows(ofBlock block: Int) -> Range<Int> {
        (block * rowsPerBlock)..<min((block + 1) * rowsPerBlock, rows)
    }

    /// Rows per block for rows of `rowBytes` bytes: blocks of about 1 MiB, small enough that a rank reading a few
    /// rows verifies little more, large enough that the checksums are a small part of the header.
    public static func rowsPerBlock(rowBytes: Int) -> Int { max(1, (1 << 20) / rowBytes) }

    /// Whether `prefix` (a file's first bytes) starts with the magic.
    public static func isBinary(_ prefix: some Collection<UInt8>) -> Bool { prefix.starts(with: magic) }

    /// The header's bytes, its own checksum last.
    public func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(headerBytes)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(Self.formatVersion)
        append(element.rawValue)
        append(UInt64(rows))
        append(UInt32(columns))
        append(UInt32(rowsPerBlock))
        for value in means + standardDeviations { append(value.bitPattern) }
        for checksum in blockChecksums { append(checksum) }
        append(bytes.withUnsafeBytes { BlockChecksum.of($0) })
        return bytes
    }

    /// The header length the fixed part `prefix` declares, checked against the file's size, so that a reader can
    /// read the whole header before decoding it.
    /// - Throws: ``JobFailure`` of kind `.invalidData` naming `source`.
    public static func headerLength(fixedPart prefix: [UInt8], fileSize: Int, source: String) throws -> Int {
        let fields = try fixedFields(prefix, source: source)
        return try checkedSizes(fields, fileSize: fileSize, source: source).header
    }

    /// Decodes and checks a whole header (`bytes` holds at least the header) of a file of `fileSize` bytes.
    /// - Throws: ``JobFailure`` of kind `.invalidData`, one line naming `source` and what is wrong.
    public static func decode(_ bytes: [UInt8], fileSize: Int, source: String) throws -> BinaryDataHeader {
        let fields = try fixedFields(bytes, source: source)
        let sizes = try checkedSizes(fields, fileSize: fileSize, source: source)
        guard bytes.count >= sizes.header else { throw damaged(source, "its header is cut short") }
        let stored = load(UInt64.self, bytes, at: sizes.header - 8)
        let computed = bytes.withUnsafeBytes { BlockChecksum.of(UnsafeRawBufferPointer(rebasing: $0[..<(sizes.header - 8)])) }
        guard stored == computed else { throw damaged(source, "its header fails its checksum") }
        let columns = fields.columns
        let statistics = (0..<(2 * columns)).map { Double(bitPattern: load(UInt64.self, bytes, at: fixedBytes + 8 * $0)) }
        let checksumsStart = fixedBytes + 16 * columns
        let header = BinaryDataHeader(
            element: fields.element, rows: fields.rows, columns: columns, rowsPerBlock: fields.rowsPerBlock,
            means: Array(statistics[..<columns]), standardDeviations: Array(statistics[columns...]),
            blockChecksums: (0..<sizes.blocks).map { load(UInt64.self, bytes, at: checksumsStart + 8 * $0) })
        if let column = header.means.firstIndex(where: { !$0.isFinite }) {
            throw damaged(source, "column \(column + 1)'s mean is not finite")
        }
        if let column = header.standardDeviations.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw damaged(source, "column \(column + 1)'s standard deviation is not a positive finite number")
        }
        return header
    }

    private struct FixedFields {
        var element: Element
        var rows: Int
        var columns: Int
        var rowsPerBlock: Int
    }

    private static func fixedFields(_ bytes: [UInt8], source: String) throws -> FixedFields {
        guard isBinary(bytes) else { throw damaged(source, "it does not start with the binary data format's magic") }
        guard bytes.count >= fixedBytes else { throw damaged(source, "its header is cut short") }
        let version = load(UInt32.self, bytes, at: 8)
        guard version == formatVersion else {
            throw JobFailure(.invalidData, "data file '\(source)' is binary format version \(version); this airfoil-dp "
                + "reads version \(formatVersion)" + (version > formatVersion ? " (convert the data again, or update)" : ""))
        }
        let code = load(UInt32.self, bytes, at: 12)
        guard let element = Element(rawValue: code) else {
            throw damaged(source, "element type \(code) is neither 1 (float64) nor 2 (float32)")
        }
        let rows = load(UInt64.self, bytes, at: 16)
        let columns = Int(load(UInt32.self, bytes, at: 24))
        let rowsPerBlock = Int(load(UInt32.self, bytes, at: 28))
        guard rows >= 1 && rows <= UInt64(Int.max / 2) else { throw damaged(source, "it declares \(rows) rows") }
        guard columns >= 2 && columns <= maximumColumns else {
            throw damaged(source, "it declares \(columns) columns (2 to \(maximumColumns): features, then the target)")
        }
        guard rowsPerBlock >= 1 else { throw damaged(source, "it declares blocks of 0 rows") }
        return FixedFields(element: element, rows: Int(rows), columns: columns, rowsPerBlock: rowsPerBlock)
    }

    /// The header's and the body's sizes, which must add up to the file's, computed without overflow.
    private static func checkedSizes(_ fields: FixedFields, fileSize: Int, source: String) throws
        -> (header: Int, blocks: Int)
    {
        let blocks = (fields.rows - 1) / fields.rowsPerBlock + 1
        let rowBytes = fields.columns * fields.element.size
        let (body, bodyOverflow) = fields.rows.multipliedReportingOverflow(by: rowBytes)
        let header = fixedBytes + 16 * fields.columns + 8 + 8 * min(blocks, Int.max / 16)
        let (total, totalOverflow) = body.addingReportingOverflow(header)
        guard !bodyOverflow && !totalOverflow && total == fileSize else {
            throw damaged(source, "its header declares \(fields.rows) rows of \(fields.columns) \(fields.element == .float64 ? "float64" : "float32") "
                + "values\(bodyOverflow || totalOverflow ? "" : " (\(total) bytes)"), but the file has \(fileSize) bytes")
        }
        return (header, blocks)
    }

    private static func damaged(_ source: String, _ problem: String) -> JobFailure {
        JobFailure(.invalidData, "data file '\(source)' is not a valid binary data file: \(problem)")
    }

    private static func load<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
