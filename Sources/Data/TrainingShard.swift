import Common
import MPI

/// One rank's standardised share of the training set, plus what every rank knows about the whole data set.
///
/// Features are stored row-major with a trailing column of ones, so the bias is the last weight and one GEMM
/// computes predictions (and one more computes the weights' and bias's gradient together).
public struct TrainingShard: Sendable {
    /// The data file's path.
    public let source: String
    /// The number of data rows in the file.
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
    /// Mean of every column (features, then target) over all rows of the file.
    public let means: [Double]
    /// Population standard deviation of every column over all rows of the file.
    public let standardDeviations: [Double]

    /// The width of a row of ``inputs``: the features and the bias input.
    public var inputWidth: Int { features + 1 }

    /// Loads this rank's shard of the first `requestedRows` rows of the file (default: 1500, or the whole file
    /// if shorter), standardising every column with statistics of all the file's rows, computed collectively.
    ///
    /// Every rank reads and validates the whole file (its problems are found identically everywhere) but keeps
    /// only its own rows. Each rank sums its shard's rows (the last rank also the rows after the training set),
    /// and one allreduce of those sums gives every rank the same means and deviations.
    public static func load(
        path: String, requestedRows: Int?, collective: some Collective
    ) throws -> TrainingShard {
        let (bytes, shape, firstRow, trainingRows) = try collective.agree {
            let bytes = try DataLocation.read(path)
            var firstRow: [Double] = []
            let shape = try DelimitedParser.parse(bytes, source: path) { index, values in
                if index == 0 { firstRow = values }
            }
            let trainingRows = requestedRows ?? min(defaultTrainingRows, shape.rows)
            guard trainingRows <= shape.rows else {
                throw JobFailure(.usage, "--rows \(trainingRows) is larger than the \(shape.rows) rows of '\(path)'")
            }
            guard trainingRows >= collective.size else {
                throw JobFailure(.usage, "the training set has \(trainingRows) rows, fewer than the "
                    + "\(collective.size) ranks: every rank needs at least one row")
            }
            return (bytes, shape, firstRow, trainingRows)
        }
        let layout = ShardLayout(rows: trainingRows, ranks: collective.size, globalBatch: trainingRows)
        let rows = layout.shard(of: collective.rank)
        let isLast = collective.rank == collective.size - 1
        var statistics = ColumnStatistics(shift: firstRow)
        var raw: [Double] = []
        raw.reserveCapacity(rows.count * shape.columns)
        try DelimitedParser.parse(bytes, source: path) { index, values in
            if rows.contains(index) {
                raw.append(contentsOf: values)
                statistics.add(values)
            } else if isLast && index >= trainingRows {
                statistics.add(values)
            }
        }
        var packed = statistics.packed
        try collective.allreduce(&packed, .sum)
        statistics.unpack(packed)
        let means = statistics.means
        let deviations = statistics.standardDeviations
        try collective.agree {
            if let constant = deviations.firstIndex(of: 0) {
                throw JobFailure(.invalidData, "data file '\(path)': column \(constant + 1) is constant "
                    + "(standard deviation 0), so it cannot be standardised")
            }
        }
        let features = shape.columns - 1
        var inputs: [Float] = []
        var targets: [Float] = []
        inputs.reserveCapacity(rows.count * (features + 1))
        targets.reserveCapacity(rows.count)
        for row in 0..<rows.count {
            for column in 0..<shape.columns {
                let value = Float((raw[row * shape.columns + column] - means[column]) / deviations[column])
                if column == features { targets.append(value) } else { inputs.append(value) }
            }
            inputs.append(1)
        }
        return TrainingShard(
            source: path, fileRows: shape.rows, trainingRows: trainingRows, features: features, rows: rows,
            inputs: inputs, targets: targets, means: means, standardDeviations: deviations)
    }

    /// d2l trains on the first 1500 of the airfoil file's 1503 rows.
    public static let defaultTrainingRows = 1500
}
