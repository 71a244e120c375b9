import Common
import MPI

/// The rows one rank holds before standardisation, and what all ranks learnt about the whole data set.
struct RawShard {
    /// Rows in the data set (a file's rows, or the synthetic data's).
    var dataRows: Int
    /// Columns of every row: the features, then the target.
    var columns: Int
    /// The leading rows trained on.
    var trainingRows: Int
    /// This rank's training rows (global row numbers) and their values, row after row.
    var training: Range<Int>
    var trainingValues: [Double]
    /// The held-out rows across all ranks, this rank's share (global row numbers) and their values.
    var validationTotal: Int
    var validation: Range<Int>
    var validationValues: [Double]
    /// Column sums of the whole data set, already combined across ranks.
    var statistics: ColumnStatistics
    /// Bytes this rank read from the data file (0 for synthetic data).
    var bytesRead: Int
}

/// Which rows each rank trains and validates on: the training rows split into contiguous shards (larger ones
/// first), and the held-out rows after them split the same way.
struct ShardPlan {
    let trainingRows: Int
    let validationRows: Int
    let ranks: Int

    /// Checks the row counts against the data and the ranks.
    /// - Throws: ``JobFailure`` of kind `.usage`.
    static func make(requested: Int?, validationRows: Int, available: Int, defaultRows: Int, ranks: Int, source: String)
        throws -> ShardPlan
    {
        let trainingRows = requested ?? min(defaultRows, available)
        guard trainingRows <= available else {
            throw JobFailure(.usage, "--rows \(trainingRows) is larger than the \(available) rows of '\(source)'")
        }
        guard trainingRows + validationRows <= available else {
            throw JobFailure(.usage, "--val-rows \(validationRows) after \(trainingRows) training rows needs "
                + "\(trainingRows + validationRows) rows; '\(source)' has \(available)")
        }
        guard trainingRows >= ranks else {
            throw JobFailure(.usage, "the training set has \(trainingRows) rows, fewer than the "
                + "\(ranks) ranks: every rank needs at least one row")
        }
        guard validationRows == 0 || validationRows >= ranks else {
            throw JobFailure(.usage, "--val-rows \(validationRows) is fewer than the \(ranks) ranks: every rank "
                + "holds at least one held-out row")
        }
        return ShardPlan(trainingRows: trainingRows, validationRows: validationRows, ranks: ranks)
    }

    /// `rank`'s training rows.
    func training(of rank: Int) -> Range<Int> {
        ShardLayout(rows: trainingRows, ranks: ranks, globalBatch: trainingRows).shard(of: rank)
    }

    /// `rank`'s held-out rows (global row numbers; empty without held-out rows).
    func validation(of rank: Int) -> Range<Int> {
        guard validationRows > 0 else { return trainingRows..<trainingRows }
        let local = ShardLayout(rows: validationRows, ranks: ranks, globalBatch: validationRows).shard(of: rank)
        return (trainingRows + local.lowerBound)..<(trainingRows + local.upperBound)
    }
}
