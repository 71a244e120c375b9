import Common
import MPI

/// One rank's standardised share of the training set (and of the held-out rows), plus what every rank knows about
/// the whole data set.
///
/// Features are stored row-major with a trailing column of ones, so the bias is the last weight and one GEMM
/// computes predictions (and one more computes the weights' and bias's gradient together).
public struct TrainingShard: Sendable {
    /// The data file's path, or the synthetic data's `synthetic:...` specification.
    public let source: String
    /// The synthetic data's settings, when the rows are generated.
    public let synthetic: SyntheticData?
    /// The binary data format's name (`binary-float64`, `binary-float32`); nil for text and synthetic data.
    public let format: String?
    /// The number of data rows in the file (or the synthetic data set).
    public let fileRows: Int
    /// The number of leading rows used for training.
    public let trainingRows: Int
    /// The number of features (the file's columns less the target).
    public let features: Int
    /// The training rows this rank holds.
    public let rows: Range<Int>
    /// `rows.count x (features + 1)` standardised features, each row ending with 1 (the bias input).
    public let inputs: [Float]
    /// `rows.count` standardised targets.
    public let targets: [Float]
    /// The held-out rows this rank holds (`--val-rows`: the rows after the training rows), shared as the training
    /// rows are; empty without them.
    public let validationRows: Range<Int>
    /// The held-out rows across all ranks.
    public let validationRowsTotal: Int
    /// `validationRows.count` rows of standardised features with their trailing 1, and their targets.
    public let validationInputs: [Float]
    public let validationTargets: [Float]
    /// Mean of every column (features, then target) over all rows of the file.
    public let means: [Double]
    /// Population standard deviation of every column over all rows of the file.
    public let standardDeviations: [Double]
    /// Bytes each rank read from the data file, re-reads included, in rank order (zeros for synthetic data).
    public let bytesRead: [Int]

    /// The width of a row of ``inputs``: the features and the bias input.
    public var inputWidth: Int { features + 1 }

    /// Loads this rank's shard of the first `requestedRows` rows (default: 1500 rows of a file, or the whole file
    /// if shorter; every row of synthetic data less the held-out ones) and of the `validationRows` after them,
    /// standardising every column with statistics of the whole data set, computed collectively.
    ///
    /// `path` names a file or, starting with `synthetic`, generated data (``SyntheticData``). A file is read by
    /// byte ranges (``FileShardReader``): each rank reads about a P-th of it; a binary data file (``BinaryDataHeader``)
    /// by rows: each rank reads and verifies the blocks that hold its rows. `admit` is shown the shards' shape
    /// once the rows are counted, before any is kept, and may refuse it (every rank calls it; a refusal is agreed).
    public static func load(
        path: String, requestedRows: Int?, validationRows: Int = 0, collective: some Collective,
        admit: (ShardShape) throws -> Void = { _ in }
    ) throws -> TrainingShard {
        let synthetic = try collective.agree { try SyntheticData.parse(path) }
        let raw = try ShardReader.read(
            path: path, requestedRows: requestedRows, validationRows: validationRows, collective: collective,
            admit: admit)
        let standardisation = try collective.agree { try raw.standardisation.get() }
        let means = standardisation.means
        let deviations = standardisation.standardDeviations
        var bytesRead = [Int64](repeating: 0, count: collective.size)
        bytesRead[collective.rank] = Int64(raw.bytesRead)
        try collective.allreduce(&bytesRead, .sum)
        let training = raw.trainingValues.standardised(columns: raw.columns, by: standardisation)
        let validation = raw.validationValues.standardised(columns: raw.columns, by: standardisation)
        return TrainingShard(
            source: path, synthetic: synthetic, format: raw.format, fileRows: raw.dataRows, trainingRows: raw.trainingRows,
            features: raw.columns - 1, rows: raw.training, inputs: training.inputs, targets: training.targets,
            validationRows: raw.validation, validationRowsTotal: raw.validationTotal,
            validationInputs: validation.inputs, validationTargets: validation.targets, means: means,
            standardDeviations: deviations, bytesRead: bytesRead.map { Int($0) })
    }

    /// The shape a run would load from `path` with these `--rows` and `--val-rows`, by the rules a run follows: a
    /// text file is read a chunk at a time and validated in one process, as a one-rank run reads it, counting its
    /// rows and keeping none; a binary file's header is read and checked; synthetic data are counted from their specification.
    public static func shape(path: String, requestedRows: Int?, validationRows: Int) throws -> ShardShape {
        let available: Int
        let columns: Int
        let defaultRows: Int
        if let synthetic = try SyntheticData.parse(path) {
            (available, columns, defaultRows) = (synthetic.rows, synthetic.features + 1, synthetic.rows - validationRows)
        } else {
            let file = try DataFile(path: path)
            defer { file.close() }
            if BinaryDataHeader.isBinary(try file.read(from: 0, count: BinaryDataHeader.magic.count)) {
                let header = try file.binaryHeader()
                (available, columns) = (header.rows, header.columns)
            } else {
                let first = try file.firstRow()
                let counted = try RangeRows.count(file, format: first.format)
                if let problem = counted.problem {
                    throw JobFailure(.invalidData, "data file '\(path)' line \(problem.line + 1): \(problem.problem)")
                }
                (available, columns) = (counted.rows, first.format.columns)
            }
            defaultRows = defaultTrainingRows
        }
        let plan = try ShardPlan.make(requested: requestedRows, validationRows: validationRows, available: available,
                                      defaultRows: defaultRows, ranks: 1, source: path)
        return plan.shape(columns: columns)
    }

    /// Standardises rows of raw values (features, then target) into inputs with a trailing 1 and targets.
    public static func standardise(_ values: [Double], columns: Int, means: [Double], deviations: [Double])
        -> (inputs: [Float], targets: [Float])
    {
        standardise([values[...]], columns: columns, by: Standardisation(means: means, standardDeviations: deviations))
    }

    /// Standardises rows of raw values given in pieces that follow each other (each a whole number of rows).
    static func standardise(_ pieces: [ArraySlice<Double>], columns: Int, by standardisation: Standardisation)
        -> (inputs: [Float], targets: [Float])
    {
        let rows = pieces.reduce(0) { $0 + $1.count } / columns
        return trainerArrays(rows: rows, columns: columns) { inputs, targets in
            var row = 0
            for piece in pieces where !piece.isEmpty {
                piece.withUnsafeBufferPointer { values in
                    standardisation.standardise(values.baseAddress!, rows: values.count / columns, columns: columns,
                                                inputs: inputs + row * columns, targets: targets + row)
                }
                row += piece.count / columns
            }
        }
    }

    /// Splits rows of standardised values (features, then target) into inputs with a trailing 1 and targets.
    static func split(_ values: [Float], columns: Int) -> (inputs: [Float], targets: [Float]) {
        values.withUnsafeBufferPointer { values in
            trainerArrays(rows: values.count / columns, columns: columns) { inputs, targets in
                Standardisation.split(values.baseAddress!, rows: values.count / columns, columns: columns,
                                      inputs: inputs, targets: targets)
            }
        }
    }

    /// The inputs (`rows` rows of `columns`: the features and the bias input) and targets that `fill` writes whole.
    static func trainerArrays(
        rows: Int, columns: Int,
        _ fill: (_ inputs: UnsafeMutablePointer<Float>, _ targets: UnsafeMutablePointer<Float>) throws -> Void
    ) rethrows -> (inputs: [Float], targets: [Float]) {
        var targets: [Float] = []
        let inputs = try [Float](unsafeUninitializedCapacity: rows * columns) { inputs, initialized in
            HugePages.advise(UnsafeMutableRawPointer(inputs.baseAddress), bytes: rows * columns * 4)
            targets = try [Float](unsafeUninitializedCapacity: rows) { targets, written in
                HugePages.advise(UnsafeMutableRawPointer(targets.baseAddress), bytes: rows * 4)
                if rows > 0 { try fill(inputs.baseAddress!, targets.baseAddress!) }
                written = rows
            }
            initialized = rows * columns
        }
        return (inputs, targets)
    }

    /// d2l trains on the first 1500 of the airfoil file's 1503 rows.
    public static let defaultTrainingRows = 1500
}

/// The leading rows of a data set read whole by one process, for `airfoil-dp predict`.
public enum LeadingRows {
    /// The first `rows` rows of the file or synthetic data at `path`: their raw values row after row (features, then
    /// the target) and the column count. `rowsFrom` names where `rows` came from, for messages; `admit` sees the
    /// rows' shape before any is kept, and may refuse it.
    /// - Throws: ``JobFailure``: `.missingData`, `.invalidData`, or `.usage` when there are fewer rows.
    public static func read(
        path: String, rows: Int, rowsFrom: String = "\(Setting.rows)", admit: (ShardShape) throws -> Void = { _ in }
    ) throws -> (columns: Int, values: [Double]) {
        let raw = try ShardReader.read(path: path, requestedRows: rows, requestedBy: rowsFrom, validationRows: 0,
                                       defaultRows: rows, rawValues: true, collective: SingleProcess(), admit: admit)
        guard let values = raw.trainingValues.rawValues else {
            throw JobFailure(.invalidData, "data file '\(path)' holds float32 standardised values (convert --float32); "
                + "predicting needs the values themselves: convert the data without --float32")
        }
        return (raw.columns, values)
    }
}
