import Foundation

/// Seconds per training step as a function of rank count N and global batch B, fitted to finished runs:
///
///     T(N, B) = c0 + c1 (B / N) + alpha log2 N
///
/// Compute is affine in the per-rank batch (a fixed cost per step, then a cost per example); the allreduce of the
/// model's fixed-size gradient costs a latency per round of a tree or recursive-doubling allreduce, log2 N rounds
/// (at one rank there is none). Linear least squares over the runs' measured seconds per step gives the three
/// constants, their standard errors and a prediction's error. The allreduce term is fitted only when runs of two or
/// more rank counts exist; a rank count outside the fitted ones is an extrapolation along log2 N.
public struct StepTimeModel: Equatable, Sendable {
    /// The fixed seconds per step, the seconds per example on one rank, and the seconds per log2 N of allreduce.
    public var fixedSeconds: Double
    public var secondsPerExample: Double
    public var allreduceSecondsPerRound: Double
    /// Their standard errors (nil where the runs cannot give one: as many runs as constants).
    public var standardErrors: [Double]?
    /// Runs fitted, and the rank counts among them.
    public var runs: Int
    public var rankCounts: [Int]
    /// The residual variance and the inverse of the normal matrix, for a prediction's error.
    private var residualVariance: Double?
    private var inverseNormal: [[Double]]
    private var fitsAllreduce: Bool

    /// The fitted seconds per step at `ranks` and `globalBatch`.
    public func seconds(ranks: Int, globalBatch: Int) -> Double {
        let x = Self.features(ranks: ranks, globalBatch: globalBatch)
        return fixedSeconds + secondsPerExample * x[1] + allreduceSecondsPerRound * x[2]
    }

    /// The standard error of a new run's seconds per step at `ranks` and `globalBatch`: the fit's uncertainty at
    /// that point plus the runs' own scatter about the fit. Nil when the runs leave no residual to estimate it.
    public func predictionError(ranks: Int, globalBatch: Int) -> Double? {
        guard let residualVariance else { return nil }
        let all = Self.features(ranks: ranks, globalBatch: globalBatch)
        let x = fitsAllreduce ? all : Array(all.prefix(2))
        var leverage = 0.0
        for i in x.indices { for j in x.indices { leverage += x[i] * inverseNormal[i][j] * x[j] } }
        return sqrt(residualVariance * (1 + leverage))
    }

    static func features(ranks: Int, globalBatch: Int) -> [Double] {
        [1, Double(globalBatch) / Double(ranks), log2(Double(ranks))]
    }

    /// The fit over `runs`' measured seconds per step; nil when they cannot determine it (fewer runs than
    /// constants, or every run at one per-rank batch).
    public static func fit(_ runs: [RunRecord]) -> StepTimeModel? {
        let usable = runs.filter { $0.finished && !$0.mixesRankCounts && ($0.secondsPerStep ?? 0) > 0 }
        let rankCounts = Set(usable.map(\.ranks)).sorted()
        let fitsAllreduce = rankCounts.count >= 2
        let width = fitsAllreduce ? 3 : 2
        guard usable.count >= width else { return nil }
        let rows = usable.map { Array(features(ranks: $0.ranks, globalBatch: $0.globalBatch).prefix(width)) }
        let targets = usable.map { $0.secondsPerStep! }
        var normal = Array(repeating: Array(repeating: 0.0, count: width), count: width)
        var moment = Array(repeating: 0.0, count: width)
        for (row, target) in zip(rows, targets) {
            for i in 0..<width {
                moment[i] += row[i] * target
                for j in 0..<width { normal[i][j] += row[i] * row[j] }
            }
        }
        guard let inverse = invert(normal) else { return nil }
        let constants = (0..<width).map { i in (0..<width).map { inverse[i][$0] * moment[$0] }.reduce(0, +) }
        let residuals = zip(rows, targets).map { row, target in
            target - zip(row, constants).map { $0 * $1 }.reduce(0, +)
        }
        let freedom = usable.count - width
        let variance = freedom > 0 ? residuals.map { $0 * $0 }.reduce(0, +) / Double(freedom) : nil
        return StepTimeModel(
            fixedSeconds: constants[0], secondsPerExample: constants[1],
            allreduceSecondsPerRound: fitsAllreduce ? constants[2] : 0,
            standardErrors: variance.map { v in (0..<width).map { sqrt(v * inverse[$0][$0]) } },
            runs: usable.count, rankCounts: rankCounts, residualVariance: variance, inverseNormal: inverse,
            fitsAllreduce: fitsAllreduce)
    }

    /// The inverse of a small symmetric matrix by Gauss-Jordan elimination with partial pivoting; nil when it is
    /// singular (the runs do not separate the constants).
    static func invert(_ matrix: [[Double]]) -> [[Double]]? {
        let n = matrix.count
        var a = matrix.enumerated().map { index, row in row + (0..<n).map { $0 == index ? 1.0 : 0.0 } }
        let scale = matrix.flatMap { $0 }.map(abs).max() ?? 0
        for column in 0..<n {
            let pivot = (column..<n).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            guard abs(a[pivot][column]) > 1e-12 * max(scale, 1e-300) else { return nil }
            a.swapAt(column, pivot)
            let divisor = a[column][column]
            a[column] = a[column].map { $0 / divisor }
            for row in 0..<n where row != column {
                let factor = a[row][column]
                if factor != 0 { a[row] = zip(a[row], a[column]).map { $0 - factor * $1 } }
            }
        }
        return a.map { Array($0[n...]) }
    }
}
