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
    var trainingValues: ShardValues
    /// The held-out rows across all ranks, this rank's share (global row numbers) and their values.
    var validationTotal: Int
    var validation: Range<Int>
    var validationValues: ShardValues
    /// The whole data set's statistics, the same on every rank, or why its columns cannot be standardised (which
    /// only a run needs: `predict` standardises with a model's statistics).
    var standardisation: Result<Standardisation, JobFailure>
    /// Bytes this rank read from the data file (0 for synthetic data).
    var bytesRead: Int
    /// The binary format's name (``BinaryDataHeader/Element/formatName``), nil for text and synthetic data.
    var format: String? = nil
}

/// Rows of values: as read (features, then the target, row after row, in pieces that follow each other: a text
/// file's chunks are kept as parsed), already standardised (a float32 binary file, read for its values), or already
/// in the trainer's form (a binary file read for training, standardised block by block as it is read).
enum ShardValues {
    case raw([ArraySlice<Double>])
    case standardised([Float])
    case ready(inputs: [Float], targets: [Float])

    /// The rows as the trainer holds them: inputs with a trailing 1 (the bias input) and targets, standardised by
    /// `standardisation` unless they already are.
    func standardised(columns: Int, by standardisation: Standardisation) -> (inputs: [Float], targets: [Float]) {
        switch self {
        case .raw(let pieces):
            TrainingShard.standardise(pieces, columns: columns, by: standardisation)
        case .standardised(let values):
            TrainingShard.split(values, columns: columns)
        case .ready(let inputs, let targets):
            (inputs, targets)
        }
    }

    /// The raw values in one array (nil for standardised values).
    var rawValues: [Double]? {
        guard case .raw(let pieces) = self else { return nil }
        return pieces.count == 1 ? Array(pieces[0]) : Array(pieces.joined())
    }
}
/// The rows every rank will hold, known once the data set's rows are counted and before any of them is kept: what a
/// memory estimate needs.
public struct ShardShape: Equatable, Sendable {
    /// Rows trained on and held out, across all ranks.
    public var trainingRows: Int
    public var validationRows: Int
    /// Columns of every row: the features, then the target.
    public var columns: Int
    public var ranks: Int
    /// The most training rows and held-out rows one rank holds.
    public var largestShard: Int { (trainingRows + ranks - 1) / ranks }
    public var largestValidationShard: Int { (validationRows + ranks - 1) / ranks }

    public init(trainingRows: Int, validationRows: Int, columns: Int, ranks: Int) {
        self.trainingRows = trainingRows
        self.validationRows = validationRows
        self.columns = columns
        self.ranks = ranks
    }
}

/// Which rows each rank trains and validates on: the training rows split into contiguous shards (larger ones
/// first), and the held-out rows after them split the same way.
struct ShardPlan {
    let trainingRows: Int
    let validationRows: Int
    let ranks: Int

    /// Checks the row counts against the data and the ranks. `requestedBy` names where `requested` came from in
    /// messages (`--rows`, or a model file's field).
    /// - Throws: ``JobFailure`` of kind `.usage`.
    static func make(requested: Int?, requestedBy: String = "\(Setting.rows)", validationRows: Int, available: Int,
                     defaultRows: Int, ranks: Int, source: String) throws -> ShardPlan
    {
        let trainingRows = requested ?? min(defaultRows, available)
        guard trainingRows <= available else {
            throw JobFailure(.usage, "\(requestedBy) \(trainingRows) is larger than the \(available) rows of "
                + "'\(source)'")
        }
        guard trainingRows + validationRows <= available else {
            throw JobFailure(.usage, "\(Setting.validationRows) \(validationRows) after \(trainingRows) training rows needs "
                + "\(trainingRows + validationRows) rows; '\(source)' has \(available)")
        }
        guard trainingRows >= ranks else {
            throw JobFailure(.usage, "the training set has \(trainingRows) rows, fewer than the "
                + "\(ranks) ranks: every rank needs at least one row")
        }
        guard validationRows == 0 || validationRows >= ranks else {
            throw JobFailure(.usage, "\(Setting.validationRows) \(validationRows) is fewer than the \(ranks) ranks: every rank "
                + "holds at least one held-out row")
        }
        return ShardPlan(trainingRows: trainingRows, validationRows: validationRows, ranks: ranks)
    }

    /// The shape of the shards of rows of `columns` columns.
    func shape(columns: Int) -> ShardShape {
        ShardShape(trainingRows: trainingRows, validationRows: validationRows, columns: columns, ranks: ranks)
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
