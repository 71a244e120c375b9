import Checksums
import Common
import MPI

/// `airfoil-dp convert`: a data set (text, synthetic or binary) as a binary data file (``BinaryDataHeader``).
public enum BinaryDataConversion {
    /// The binary file of every row of `path`, read and validated as a one-rank run reads it, with the statistics a
    /// run computes, and its header. The whole table is held in memory (its values as float64, then the file).
    /// - Throws: ``JobFailure``: what reading `path` throws, and `.invalidData` when a column cannot be
    ///   standardised or a float32 file is asked for float64.
    public static func convert(path: String, to element: BinaryDataHeader.Element) throws
        -> (file: [UInt8], header: BinaryDataHeader)
    {
        let raw = try ShardReader.read(path: path, requestedRows: nil, validationRows: 0, defaultRows: .max,
                                       rawValues: true, collective: SingleProcess(), admit: { _ in })
        let standardisation = try raw.standardisation.get()
        switch (raw.trainingValues, element) {
        case (.raw, _):
            return file(values: raw.trainingValues.rawValues!, columns: raw.columns, standardisation: standardisation, element: element)
        case (.standardised(let values), .float32Standardised):
            return file(values: values, columns: raw.columns, standardisation: standardisation)
        case (.standardised, .float64):
            throw JobFailure(.invalidData, "data file '\(path)' holds float32 standardised values: it cannot give "
                + "float64 values back (convert the original data)")
        case (.ready, _):
            preconditionFailure("rows read for their values came in the trainer's form")
        }
    }

    /// The file of raw `values` (rows of `columns`), stored as float64 or standardised to float32.
    static func file(values: [Double], columns: Int, standardisation: Standardisation,
                     element: BinaryDataHeader.Element) -> (file: [UInt8], header: BinaryDataHeader)
    {
        guard element == .float32Standardised else {
            return values.withUnsafeBytes { body(body: $0, rows: values.count / columns, columns: columns,
                                                 standardisation: standardisation, element: element) }
        }
        let standardised = [Float](unsafeUninitializedCapacity: values.count) { buffer, initialized in
            for index in values.indices {
                let column = index % columns
                buffer[index] = Standardisation.standardised(
                    values[index], mean: standardisation.means[column], deviation: standardisation.standardDeviations[column])
            }
            initialized = values.count
        }
        return file(values: standardised, columns: columns, standardisation: standardisation)
    }

    /// The file of already standardised `values`.
    static func file(values: [Float], columns: Int, standardisation: Standardisation)
        -> (file: [UInt8], header: BinaryDataHeader)
    {
        values.withUnsafeBytes { body(body: $0, rows: values.count / columns, columns: columns,
                                      standardisation: standardisation, element: .float32Standardised) }
    }

    /// The header (block checksums computed) followed by `body`.
    private static func body(body: UnsafeRawBufferPointer, rows: Int, columns: Int, standardisation: Standardisation,
                             element: BinaryDataHeader.Element) -> (file: [UInt8], header: BinaryDataHeader)
    {
        let rowsPerBlock = BinaryDataHeader.rowsPerBlock(rowBytes: columns * element.size)
        var header = BinaryDataHeader(
            element: element, rows: rows, columns: columns, rowsPerBlock: rowsPerBlock, means: standardisation.means,
            standardDeviations: standardisation.standardDeviations, blockChecksums: [])
        header.blockChecksums = (0..<header.blocks).map { block in
            let blockRows = header.rows(ofBlock: block)
            return BlockChecksum.of(UnsafeRawBufferPointer(
                rebasing: body[(blockRows.lowerBound * header.rowBytes)..<(blockRows.upperBound * header.rowBytes)]))
        }
        let encoded = header.encoded()
        let file = [UInt8](unsafeUninitializedCapacity: encoded.count + body.count) { buffer, initialized in
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            encoded.withUnsafeBytes { bytes.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            if body.count > 0 { (bytes.baseAddress! + encoded.count).copyMemory(from: body.baseAddress!, byteCount: body.count) }
            initialized = encoded.count + body.count
        }
        return (file, header)
    }
}
