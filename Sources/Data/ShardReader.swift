import Common
import MPI

/// Reads a rank's rows from any data source: generated (`synthetic:...`), a binary data file (recognised by its
/// magic, whatever its name) or a text file.
enum ShardReader {
    /// This rank's rows of the first `requestedRows` rows (else `defaultRows`, capped at the rows there are; nil:
    /// a file's ``TrainingShard/defaultTrainingRows``, all synthetic rows less the held-out ones) and of the
    /// `validationRows` after them. `admit` sees the shards' shape before any row is kept, and may refuse it.
    /// `rawValues` asks for the values as read (predicting, converting); otherwise a reader may hand over rows
    /// already in the trainer's form.
    static func read(
        path: String, requestedRows: Int?, requestedBy: String = "\(Setting.rows)", validationRows: Int,
        defaultRows: Int? = nil, rawValues: Bool = false, collective: some Collective,
        admit: (ShardShape) throws -> Void
    ) throws -> RawShard {
        if let synthetic = try collective.agree({ try SyntheticData.parse(path) }) {
            return try SyntheticShardReader.read(
                synthetic, requestedRows: requestedRows, requestedBy: requestedBy, validationRows: validationRows,
                defaultRows: defaultRows, collective: collective, admit: admit)
        }
        let file = try collective.agree { try DataFile(path: path) }
        defer { file.close() }
        let binary = try collective.agree { BinaryDataHeader.isBinary(try file.read(from: 0, count: BinaryDataHeader.magic.count)) }
        let rows = defaultRows ?? TrainingShard.defaultTrainingRows
        if binary {
            return try BinaryShardReader.read(
                file: file, requestedRows: requestedRows, requestedBy: requestedBy, validationRows: validationRows,
                defaultRows: rows, rawValues: rawValues, collective: collective, admit: admit)
        }
        return try FileShardReader.read(
            file: file, requestedRows: requestedRows, requestedBy: requestedBy, validationRows: validationRows,
            defaultRows: rows, collective: collective, admit: admit)
    }
}
