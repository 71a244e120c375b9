import Formats
import Foundation

/// The fit of steps-to-target against global batch, S(B) = S_min (1 + B_noise / B) (McCandlish et al. 2018,
/// "An Empirical Model of Large-Batch Training", eq. 2.11): below B_noise a doubled batch halves the steps
/// (perfect scaling), above it the steps stop falling towards S_min (no returns); E_min = S_min B_noise is the
/// fewest examples.
public struct BatchSizeFit: Equatable, Sendable {
    /// The steps an infinitely large batch would need.
    public var minimumSteps: Double
    /// The batch where returns diminish: the critical batch size.
    public var noiseBatch: Double
    /// One standard error of `noiseBatch` as a factor (B_noise x/÷ factor), or nil when the points cannot give
    /// one (two batch sizes fix the curve exactly; a flat or boundless residual has no curvature).
    public var noiseBatchFactor: Double?
    /// The fewest examples: S_min x B_noise.
    public var minimumExamples: Double { minimumSteps * noiseBatch }
    /// The fitted steps to the target at global batch `batch`: S(B) = S_min (1 + B_noise / B).
    public func steps(batch: Double) -> Double { minimumSteps * (1 + noiseBatch / batch) }
    /// Batch sizes fitted.
    public var points: Int
    /// Why the data do not determine the fit, if they do not.
    public var warning: String?
    /// The standard deviation of the points about the curve in log space (the residual's, with two degrees of
    /// freedom spent), nil with two batch sizes: how far a measured step count strays from S(B), as a factor
    /// `exp(deviation)`.
    public var logResidualDeviation: Double?

    /// Least squares in log space over `(batch, steps)` points (one per batch size); nil with fewer than two
    /// batch sizes. B_noise is searched over a wide range around the batches; an optimum at the edge of that
    /// range means the steps did not bend (flat: B_noise far below the batches; proportional to 1/B: far above),
    /// which the warning says.
    public static func fit(_ points: [(batch: Double, steps: Double)]) -> BatchSizeFit? {
        let usable = points.filter { $0.batch > 0 && $0.steps > 0 && $0.batch.isFinite && $0.steps.isFinite }
        guard Set(usable.map(\.batch)).count >= 2 else { return nil }
        let logBatches = usable.map { log($0.batch) }
        let logSteps = usable.map { log($0.steps) }
        // For a given u = log B_noise, the best log S_min is the mean residual; the sum of squares is then a
        // function of u alone.
        func residual(_ u: Double) -> (sum: Double, logMinimum: Double) {
            let shifts = logBatches.map { log1p(exp(u - $0)) }
            let logMinimum = zip(logSteps, shifts).map { $0 - $1 }.reduce(0, +) / Double(usable.count)
            let sum = zip(logSteps, shifts).map { pow($0 - $1 - logMinimum, 2) }.reduce(0, +)
            return (sum, logMinimum)
        }
        let low = logBatches.min()! - 8, high = logBatches.max()! + 8
        let grid = (0...1600).map { low + (high - low) * Double($0) / 1600 }
        var best = grid.min { residual($0).sum < residual($1).sum }!
        // Golden-section refinement around the best grid point.
        let step = (high - low) / 1600
        var left = max(low, best - step), right = min(high, best + step)
        let ratio = (sqrt(5.0) - 1) / 2
        for _ in 0..<60 {
            let a = right - ratio * (right - left), b = left + ratio * (right - left)
            if residual(a).sum < residual(b).sum { right = b } else { left = a }
        }
        best = (left + right) / 2
        let (sum, logMinimum) = residual(best)
        var warning: String?
        var factor: Double?
        if best - low < 0.5 || high - best < 0.5 {
            warning = best - low < 0.5
                ? "steps did not fall with the batch: B_noise is below the smallest batch and not determined"
                : "steps fell as 1/B over every batch: B_noise is above the largest batch and not determined"
        } else if usable.count <= 2 {
            warning = "two batch sizes fix the curve exactly: B_noise has no uncertainty estimate; sweep more batches"
        } else {
            let h = 0.01
            let curvature = (residual(best + h).sum - 2 * sum + residual(best - h).sum) / (h * h)
            let variance = sum / Double(usable.count - 2)
            if curvature > 0 {
                factor = exp(sqrt(2 * variance / curvature))
            } else {
                warning = "the residual is flat in B_noise: not determined"
            }
        }
        let deviation = usable.count > 2 ? sqrt(sum / Double(usable.count - 2)) : nil
        return BatchSizeFit(minimumSteps: exp(logMinimum), noiseBatch: exp(best), noiseBatchFactor: factor,
                            points: usable.count, warning: warning, logResidualDeviation: deviation)
    }
}

/// The fits of a folder's runs: one per batch-size sweep, that is per folder, rank count and settings other
/// than the learning rate and epochs (which a sweep sets per batch). Only finished runs count: a run that diverged
/// after touching the target did not train to it. Per batch it takes the run that reached the
/// target in the fewest steps, whatever its learning rate (Shallue et al. 2018 measure steps-to-target so).
public enum BatchSizeSweeps {
    /// One line per sweep with two or more batch sizes that reached the target.
    public struct Row: Sendable {
        public var folder: String
        public var series: String
        public var ranks: Int
        public var fit: BatchSizeFit
        /// The median of the noise scale B_simple that the fitted runs (each batch's fewest-steps run) measured
        /// when they reached the target; nil when none estimated it.
        public var measuredNoiseScale: Double?
        /// The fitted runs: each batch's run that reached the target in the fewest steps.
        public var runs: [RunRecord]
    }

    public static func fits(_ rows: [ScalingRow]) -> [Row] {
        let reached = rows.filter {
            $0.run.stepsToTarget != nil && !$0.run.mixesRankCounts && $0.run.finished && !$0.run.adaptsBatch
        }
        let sweeps = Dictionary(grouping: reached.indices) { index in
            let run = reached[index].run
            let settings = run.settings.filter { !Self.perBatch.contains($0.key) }.map { "\($0.key)=\($0.value)" }
            return "\(run.folder)|\(run.ranks)|\(settings.sorted().joined(separator: ";"))"
        }
        return sweeps.values.compactMap { members -> Row? in
            let fewest = Dictionary(grouping: members) { reached[$0].run.globalBatch }.mapValues { indices in
                indices.map { reached[$0].run }.min { ($0.stepsToTarget!, $0.source) < ($1.stepsToTarget!, $1.source) }!
            }.sorted { $0.key < $1.key }.map(\.value)
            let points = fewest.map { (batch: Double($0.globalBatch), steps: $0.stepsToTarget!) }
            guard let fit = BatchSizeFit.fit(points) else { return nil }
            let first = reached[members[0]]
            return Row(folder: first.run.folder, series: first.series, ranks: first.run.ranks, fit: fit,
                       measuredNoiseScale: median(fewest.compactMap(\.noiseScale)), runs: fewest)
        }.sorted { ($0.folder, $0.series, $0.ranks) < ($1.folder, $1.series, $1.ranks) }
    }

    /// The middle value (the mean of the middle two), nil for none.
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Settings a batch-size sweep chooses per batch, and the seed, which its repeats change.
    static let perBatch: Set<String> = ["optimizer.learning_rate", "epochs", "preset", "seed"]
}
