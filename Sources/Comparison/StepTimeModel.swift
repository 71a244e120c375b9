import Formats
import Foundation

/// Seconds per training step as a function of rank count N and global batch B, fitted to finished runs:
///
///     T(N, B) = c0 + c1 b + A(N),   b = ceil(B / N)
///
/// Compute is affine in the largest per-rank share b (a fixed cost per step, then a cost per example; the other
/// ranks wait for the largest), fitted by least squares to the runs' seconds per step outside the allreduce. The
/// allreduce of the model's fixed-size gradient, A(N) (0 at one rank), comes from one of two places:
/// - a network profile (``NetworkProfile``, `bench allreduce --network-profile`) of the machine or cluster the
///   prediction is for: the profile's median at the gradient's bytes, and for a rank count no profile measured,
///   the profiles' values extended along log2 N;
/// - otherwise the runs' own allreduce seconds per step at two ranks or more, fitted as alpha log2 N (the rounds
///   of a tree or recursive-doubling allreduce of a small message). The runs' figure includes waiting for the
///   slowest rank, which a profile of the bare collective does not.
/// Without either (runs at one rank only, and no profile), only one rank is predicted.
public struct StepTimeModel: Equatable, Sendable {
    /// Compute's fixed seconds per step and seconds per example of the largest share.
    public var fixedSeconds: Double
    public var secondsPerExample: Double
    /// Their standard errors (nil where the runs cannot give one: as many runs as constants).
    public var standardErrors: [Double]?
    /// Where A(N) comes from.
    public var allreduce: Allreduce
    /// Runs fitted, and the rank counts among them.
    public var runs: Int
    public var rankCounts: [Int]
    /// The bytes of a step's allreduce (from the runs' logs), for a profile's look-up.
    public var allreduceBytes: Int?
    /// Compute's residual variance and the inverse of its normal matrix, for a prediction's error.
    private var residualVariance: Double?
    private var inverseNormal: [[Double]]

    /// The allreduce's part of a step.
    public enum Allreduce: Equatable, Sendable {
        /// alpha log2 N fitted to the runs' allreduce seconds per step, with alpha's standard error and the runs'
        /// scatter about the fit (nil from one run).
        case fitted(secondsPerRound: Double, standardError: Double?, residualVariance: Double?)
        /// Looked up in network profiles.
        case profiled([NetworkProfile])
        /// Nothing measured it: only one rank is predicted.
        case unknown
    }

    /// The fitted seconds per step at `ranks` and `globalBatch` (compute alone where the allreduce is unknown).
    public func seconds(ranks: Int, globalBatch: Int) -> Double {
        compute(share: Self.share(globalBatch, ranks)) + (allreduceSeconds(ranks: ranks) ?? 0)
    }

    /// Whether A(N) is known at `ranks`: always at one rank; at any rank count with a profile or a fitted alpha.
    public func predicts(ranks: Int) -> Bool { allreduceSeconds(ranks: ranks) != nil }

    /// Compute seconds per step at a largest share of `share` rows.
    public func compute(share: Int) -> Double { fixedSeconds + secondsPerExample * Double(share) }

    /// A(N): nil where nothing says what the allreduce costs at `ranks`.
    public func allreduceSeconds(ranks: Int) -> Double? {
        guard ranks > 1 else { return 0 }
        switch allreduce {
        case .fitted(let alpha, _, _): return alpha * log2(Double(ranks))
        case .unknown: return nil
        case .profiled(let profiles):
            guard let bytes = allreduceBytes else { return nil }
            if let exact = profiles.first(where: { $0.ranks == ranks }) { return exact.seconds(bytes: bytes) }
            // Along log2 N through the profiled rank counts, by least squares through the origin.
            let rounds = profiles.map { log2(Double($0.ranks)) }
            let alpha = zip(profiles, rounds).map { $0.seconds(bytes: bytes) * $1 }.reduce(0, +)
                / rounds.map { $0 * $0 }.reduce(0, +)
            return alpha * log2(Double(ranks))
        }
    }

    /// The standard error of a new run's seconds per step at `ranks` and `globalBatch`: compute's fit uncertainty
    /// at that share plus the runs' scatter about it, and, for a fitted allreduce, alpha's error and the runs'
    /// scatter about alpha log2 N (a profile's medians add none). Nil when the runs leave no residual.
    public func predictionError(ranks: Int, globalBatch: Int) -> Double? {
        guard let residualVariance else { return nil }
        let x = [1, Double(Self.share(globalBatch, ranks))]
        var leverage = 0.0
        for i in x.indices { for j in x.indices { leverage += x[i] * inverseNormal[i][j] * x[j] } }
        var variance = residualVariance * (1 + leverage)
        if ranks > 1, case .fitted(_, let error, let scatter) = allreduce {
            let rounds = log2(Double(ranks))
            variance += pow((error ?? 0) * rounds, 2) + (scatter ?? 0)
        }
        return sqrt(variance)
    }

    static func share(_ globalBatch: Int, _ ranks: Int) -> Int { (globalBatch + ranks - 1) / ranks }

    /// The fit over `runs`' measured seconds per step, with the allreduce from `profiles` when given; nil when
    /// the runs cannot determine compute (fewer than two runs, or every run at one per-rank share).
    public static func fit(_ runs: [RunRecord], profiles: [NetworkProfile] = []) -> StepTimeModel? {
        let usable = runs.filter {
            $0.finished && !$0.mixesRankCounts && ($0.computeSecondsPerStep ?? 0) > 0
                && ($0.allreduceSecondsPerStep ?? -1) >= 0
        }
        guard usable.count >= 2 else { return nil }
        let rows = usable.map { [1, Double($0.largestShare)] }
        guard let compute = leastSquares(rows: rows, targets: usable.map { $0.computeSecondsPerStep! }) else {
            return nil
        }
        let allreduce: Allreduce
        if !profiles.isEmpty {
            allreduce = .profiled(profiles)
        } else {
            let parallel = usable.filter { $0.ranks > 1 }
            let fitted = leastSquares(
                rows: parallel.map { [log2(Double($0.ranks))] }, targets: parallel.map { $0.allreduceSecondsPerStep! })
            allreduce = fitted.map {
                .fitted(secondsPerRound: $0.constants[0], standardError: $0.errors?[0], residualVariance: $0.variance)
            } ?? .unknown
        }
        return StepTimeModel(
            fixedSeconds: compute.constants[0], secondsPerExample: compute.constants[1], standardErrors: compute.errors,
            allreduce: allreduce, runs: usable.count, rankCounts: Set(usable.map(\.ranks)).sorted(),
            allreduceBytes: usable.compactMap(\.allreduceBytes).max(), residualVariance: compute.variance,
            inverseNormal: compute.inverse)
    }

    /// Linear least squares of `targets` on `rows`: the constants, their standard errors and the residual
    /// variance (nil without a degree of freedom left), and the normal matrix's inverse; nil when singular.
    static func leastSquares(rows: [[Double]], targets: [Double])
        -> (constants: [Double], errors: [Double]?, variance: Double?, inverse: [[Double]])? {
        guard let width = rows.first?.count, rows.count >= width else { return nil }
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
        let freedom = rows.count - width
        let variance = freedom > 0 ? residuals.map { $0 * $0 }.reduce(0, +) / Double(freedom) : nil
        return (constants, variance.map { v in (0..<width).map { sqrt(v * inverse[$0][$0]) } }, variance, inverse)
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
