import Checksums
import Common
import MPI

/// Loads a rank's rows of a binary data file (``BinaryDataHeader``): every rank checks the header, then reads
/// exactly the blocks that hold its training and held-out rows and verifies each block's checksum and that its
/// values are finite. No message between ranks: the header says where every row is.
///
/// For training, a block at a time goes through one reused buffer of the block's size, which stays in cache while
/// it is verified and standardised straight into the trainer's arrays: the rows are never held twice. Read for
/// their values (`predict`, `convert`), the blocks are read into the array returned.
enum BinaryShardReader {
    static func read(file: DataFile, requestedRows: Int?, requestedBy: String, validationRows: Int, defaultRows: Int,
                     rawValues: Bool, collective: some Collective, admit: (ShardShape) throws -> Void) throws
        -> RawShard
    {
        let header = try collective.agree { try file.binaryHeader() }
        let plan = try collective.agree {
            let plan = try ShardPlan.make(
                requested: requestedRows, requestedBy: requestedBy, validationRows: validationRows,
                available: header.rows, defaultRows: defaultRows, ranks: collective.size, source: file.path)
            try admit(plan.shape(columns: header.columns))
            return plan
        }
        let rank = collective.rank
        let standardisation = Standardisation(means: header.means, standardDeviations: header.standardDeviations)
        func values(_ rows: Range<Int>) throws -> ShardValues {
            if !rawValues { return try trainerRows(rows, of: file, header, standardisation) }
            return switch header.element {
            case .float64: .raw([try self.values(Double.self, rows, of: file, header)[...]])
            case .float32Standardised: .standardised(try self.values(Float.self, rows, of: file, header))
            }
        }
        let (training, validation) = try collective.agree {
            (try values(plan.training(of: rank)), try values(plan.validation(of: rank)))
        }
        return RawShard(
            dataRows: header.rows, columns: header.columns, trainingRows: plan.trainingRows,
            training: plan.training(of: rank), trainingValues: training, validationTotal: plan.validationRows,
            validation: plan.validation(of: rank), validationValues: validation, standardisation: .success(standardisation),
            bytesRead: file.bytesRead, format: header.element.formatName)
    }

    /// `rows` in the trainer's form, standardised (float64) or split (float32) block by block as they are read.
    private static func trainerRows(_ rows: Range<Int>, of file: DataFile, _ header: BinaryDataHeader,
                                    _ standardisation: Standardisation) throws -> ShardValues
    {
        let columns = header.columns
        let (inputs, targets) = try TrainingShard.trainerArrays(rows: rows.count, columns: columns) { inputs, targets in
            try withUnsafeTemporaryAllocation(byteCount: header.largestBlockBytes, alignment: 64) { buffer in
                try forEachBlock(holding: rows, of: file, header, into: buffer) { blockRows, bytes in
                    let kept = blockRows.clamped(to: rows)
                    let source = bytes.baseAddress! + (kept.lowerBound - blockRows.lowerBound) * header.rowBytes
                    let row = kept.lowerBound - rows.lowerBound
                    let (inputs, targets) = (inputs + row * columns, targets + row)
                    switch header.element {
                    case .float64:
                        standardisation.standardise(source.assumingMemoryBound(to: Double.self), rows: kept.count,
                                                    columns: columns, inputs: inputs, targets: targets)
                        // Finite values whose header's statistics do not fit them (an edited file) can standardise
                        // beyond Float's range.
                        let written = UnsafeRawBufferPointer(start: inputs, count: kept.count * columns * 4)
                        let target = UnsafeRawBufferPointer(start: targets, count: kept.count * 4)
                        if let index = firstNonFinite(written, exponent: floatExponent)
                            ?? firstNonFinite(target, exponent: floatExponent).map({ $0 * columns + columns - 1 })
                        {
                            throw damaged(file, "row \(kept.lowerBound + index / columns + 1) column \(index % columns + 1) "
                                + "lies beyond Float's range once standardised by the header's statistics")
                        }
                    case .float32Standardised:
                        Standardisation.split(source.assumingMemoryBound(to: Float.self), rows: kept.count,
                                              columns: columns, inputs: inputs, targets: targets)
                    }
                }
            }
        }
        return .ready(inputs: inputs, targets: targets)
    }

    /// The values of `rows`: the blocks that hold them read into one array and verified, then `rows` moved to its
    /// front (one buffer, at most two blocks larger than the rows kept).
    private static func values<Value: BinaryFloatingPoint>(
        _ type: Value.Type, _ rows: Range<Int>, of file: DataFile, _ header: BinaryDataHeader
    ) throws -> [Value] {
        guard !rows.isEmpty else { return [] }
        let first = header.rows(ofBlock: rows.lowerBound / header.rowsPerBlock).lowerBound
        let last = header.rows(ofBlock: (rows.upperBound - 1) / header.rowsPerBlock).upperBound
        let rowBytes = header.rowBytes
        return try [Value](unsafeUninitializedCapacity: (last - first) * header.columns) { buffer, initialized in
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            try forEachBlock(holding: rows, of: file, header, into: nil) { blockRows, block in
                (bytes.baseAddress! + offset).copyMemory(from: block.baseAddress!, byteCount: block.count)
                offset += block.count
            }
            let skipped = (rows.lowerBound - first) * rowBytes
            if skipped > 0 { bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + skipped, byteCount: rows.count * rowBytes) }
            initialized = rows.count * header.columns
        }
    }

    /// Reads each block that holds any of `rows` into `buffer` (one of a block's size; nil: a buffer of its own),
    /// verifies it, and hands it to `body` with the block's rows.
    private static func forEachBlock(
        holding rows: Range<Int>, of file: DataFile, _ header: BinaryDataHeader, into buffer: UnsafeMutableRawBufferPointer?,
        _ body: (Range<Int>, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard !rows.isEmpty else { return }
        let own = buffer == nil ? UnsafeMutableRawBufferPointer.allocate(byteCount: header.largestBlockBytes, alignment: 64) : nil
        defer { own?.deallocate() }
        let buffer = buffer ?? own!
        for block in (rows.lowerBound / header.rowsPerBlock)...((rows.upperBound - 1) / header.rowsPerBlock) {
            let blockRows = header.rows(ofBlock: block)
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[..<(blockRows.count * header.rowBytes)])
            try file.read(into: bytes, from: header.headerBytes + blockRows.lowerBound * header.rowBytes)
            let block = UnsafeRawBufferPointer(bytes)
            guard BlockChecksum.of(block) == header.blockChecksums[blockRows.lowerBound / header.rowsPerBlock] else {
                throw damaged(file, "block \(blockRows.lowerBound / header.rowsPerBlock) (rows \(blockRows.lowerBound + 1) "
                    + "to \(blockRows.upperBound)) fails its checksum")
            }
            let nonFinite = header.element == .float64 ? firstNonFinite(block, exponent: doubleExponent)
                : firstNonFinite(block, exponent: floatExponent)
            if let index = nonFinite {
                throw damaged(file, "row \(blockRows.lowerBound + index / header.columns + 1) column "
                    + "\(index % header.columns + 1) is not a finite number")
            }
            try body(blockRows, block)
        }
    }

    /// The index of the first value of `bytes` that is infinite or not a number (all its `exponent` bits set:
    /// `Bits` is the values' bit pattern, UInt64 for Double, UInt32 for Float), or nil: a branch-free count
    /// first, which the compiler vectorises, and a search only when it finds one.
    private static func firstNonFinite<Bits: FixedWidthInteger & UnsignedInteger>(
        _ bytes: UnsafeRawBufferPointer, exponent: Bits
    ) -> Int? {
        bytes.withMemoryRebound(to: Bits.self) { words in
            var nonFinite: Bits = 0
            for word in words { nonFinite &+= word & exponent == exponent ? 1 : 0 }
            return nonFinite == 0 ? nil : words.firstIndex { $0 & exponent == exponent }
        }
    }

    private static let doubleExponent: UInt64 = 0x7FF0_0000_0000_0000
    private static let floatExponent: UInt32 = 0x7F80_0000

    private static func damaged(_ file: DataFile, _ problem: String) -> JobFailure {
        JobFailure(.invalidData, "data file '\(file.path)' is damaged: \(problem)")
    }
}

#if !_endian(little)
#error("the binary data format is little-endian, read in place: a big-endian host needs a byte-swapping reader")
#endif
