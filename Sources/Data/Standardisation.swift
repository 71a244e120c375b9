import Common

/// Every column's mean and population standard deviation over all rows of the data set, and the one definition of
/// a standardised value, which the trainer, the text and binary readers and `convert --float32` share (so a float32
/// binary file holds exactly the Floats a run on its text would compute).
public struct Standardisation: Equatable, Sendable {
    public var means: [Double]
    public var standardDeviations: [Double]

    public init(means: [Double], standardDeviations: [Double]) {
        self.means = means
        self.standardDeviations = standardDeviations
    }

    /// `value` standardised by a column's `mean` and `deviation`.
    @inline(__always)
    public static func standardised(_ value: Double, mean: Double, deviation: Double) -> Float {
        Float((value - mean) / deviation)
    }
}

extension ColumnStatistics {
    /// The statistics' means and deviations, once they cover the whole data set.
    /// - Throws: ``JobFailure`` of kind `.invalidData` naming `source` when a column cannot be standardised exactly
    ///   (values too far apart) or at all (constant).
    public func standardisation(source: String) throws(JobFailure) -> Standardisation {
        if let column = refused.firstIndex(where: { $0 > 0 }) {
            throw JobFailure(.invalidData, "data file '\(source)': column \(column + 1) has values too far from "
                + "the first row's (beyond about 6e23) to standardise exactly")
        }
        let deviations = standardDeviations
        if let constant = deviations.firstIndex(of: 0) {
            throw JobFailure(.invalidData, "data file '\(source)': column \(constant + 1) is constant "
                + "(standard deviation 0), so it cannot be standardised")
        }
        return Standardisation(means: means, standardDeviations: deviations)
    }
}

extension Standardisation {
    /// Standardises `rows` rows of raw values (the features, then the target) into the trainer's form: inputs of
    /// the same width, each row's features followed by 1 (the bias input), and targets.
    ///
    /// Eight rows at a time, against each column's mean and deviation repeated to that length, so that the
    /// compiler vectorises the division; every value is still ``standardised(_:mean:deviation:)``, the same bits
    /// as one at a time.
    func standardise(_ values: UnsafePointer<Double>, rows: Int, columns: Int, inputs: UnsafeMutablePointer<Float>,
                     targets: UnsafeMutablePointer<Float>)
    {
        let features = columns - 1
        let group = Self.rowsPerGroup * columns
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * group) { pattern in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: group) { bias in
                let means = pattern.baseAddress!
                let deviations = means + group
                for index in 0..<group {
                    means[index] = self.means[index % columns]
                    deviations[index] = standardDeviations[index % columns]
                    bias[index] = index % columns == features ? 1 : 0
                }
                var row = 0
                while row + Self.rowsPerGroup <= rows {
                    let source = values + row * columns
                    let target = inputs + row * columns
                    for index in 0..<group {
                        let value = Self.standardised(source[index], mean: means[index], deviation: deviations[index])
                        target[index] = bias[index] == 0 ? value : 1
                    }
                    row += Self.rowsPerGroup
                }
                for index in (row * columns)..<(rows * columns) {
                    let column = index % columns
                    inputs[index] = column == features ? 1 : Self.standardised(
                        values[index], mean: means[column], deviation: deviations[column])
                }
            }
        }
        let mean = means[features]
        let deviation = standardDeviations[features]
        for row in 0..<rows { targets[row] = Self.standardised(values[row * columns + features], mean: mean, deviation: deviation) }
    }

    /// Splits `rows` rows of standardised values (the features, then the target) into inputs with a trailing 1
    /// and targets.
    static func split(_ values: UnsafePointer<Float>, rows: Int, columns: Int, inputs: UnsafeMutablePointer<Float>,
                      targets: UnsafeMutablePointer<Float>)
    {
        let features = columns - 1
        inputs.update(from: values, count: rows * columns)
        for row in 0..<rows {
            targets[row] = values[row * columns + features]
            inputs[row * columns + features] = 1
        }
    }

    private static let rowsPerGroup = 8
}
