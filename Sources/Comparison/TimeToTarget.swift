import Formats
import Foundation

/// `compare --predict` and `--validate`: time to a target loss for batch sizes and rank counts, predicted as the
/// fitted steps S(B) (``BatchSizeFit``) times the fitted seconds per step T(N, B) (``StepTimeModel``), with an
/// interval, and checked against runs the fits did not see.
///
/// Time to the target is predicted as `startSeconds + S(B) T(N, B)`: a run's first steps cost more than its
/// average (caches, pages and the allocator warming up), which a run that reaches the target in a few steps
/// shows, so the median over the study's measurements of what their times exceed steps times T is added.
///
/// A study is a sweep's runs that differ only in rank count, batch, learning rate, epochs or preset (one folder,
/// one ``ScalingRow/series``). Each (rank count, batch) it measured counts once: at the learning rate whose median
/// steps to the target (over repeats) is fewest, with that rate's median steps and seconds; S(B) is fitted to
/// those steps over every rank count (the global batch, not the rank count, sets the optimisation), T to every
/// finished run's seconds per step, with the allreduce from network profiles when they are given.
public enum TimeToTarget {
    /// The interval's coverage: 90%, from the normal quantile on the log scale.
    public static let intervalLevel = 0.9
    static let quantile = 1.6448536269514722

    /// A (rank count, batch) the study measured.
    public struct Measurement: Sendable {
        public var ranks: Int
        public var globalBatch: Int
        public var learningRate: Double
        public var steps: Double
        public var seconds: Double
        public var repeats: Int
        /// The repeats' own noise: the median of |repeat / median - 1| over them, for steps and for seconds (nil
        /// with one repeat).
        public var stepsSpread: Double?
        public var secondsSpread: Double?
    }

    /// One sweep's fits.
    public struct Study: Sendable {
        public var folder: String
        public var series: String
        public var rows: Int
        public var measurements: [Measurement]
        public var runs: [RunRecord]
        public var steps: BatchSizeFit
        public var stepTime: StepTimeModel
        /// The median excess of a measured time to the target over its steps times T(N, B).
        public var startSeconds: Double
    }

    /// A prediction for one (rank count, batch), beside what was measured there if anything.
    public struct Prediction: Sendable {
        public var folder: String
        public var series: String
        public var ranks: Int
        public var globalBatch: Int
        public var predictedSteps: Double
        public var secondsPerStep: Double
        public var startSeconds: Double
        public var predictedSeconds: Double { startSeconds + predictedSteps * secondsPerStep }
        /// The interval of ``intervalLevel`` around `predictedSeconds`, from the scatter of the steps about S(B)
        /// and the step-time fit's prediction error (nil when either fit has no residual to estimate it from).
        public var predictedSecondsLow: Double?
        public var predictedSecondsHigh: Double?
        public var measured: Measurement?
        /// Outside the rank counts the step-time model measured, or the batches S(B) was fitted on.
        public var extrapolated: Bool
    }

    /// The studies of `rows` that have two or more batch sizes reaching the target and a step-time fit, leaving
    /// out the runs at `excludingBatch` or at `excludingRanks` (validation's held-out runs).
    public static func studies(
        _ rows: [ScalingRow], excludingBatch: Int? = nil, excludingRanks: Int? = nil, profiles: [NetworkProfile] = []
    ) -> [Study] {
        // Diverged runs stay: a repeat that diverged is one that did not reach the target at its rate.
        let usable = rows.filter {
            ($0.run.finished || $0.run.status == "diverged") && !$0.run.mixesRankCounts && !$0.run.adaptsBatch
        }
        let groups = Dictionary(grouping: usable) { "\($0.run.folder)|\($0.series)" }
        return groups.values.compactMap { members -> Study? in
            let runs = members.map(\.run).filter { $0.globalBatch != excludingBatch && $0.ranks != excludingRanks }
            let measurements = measure(runs)
            guard let steps = BatchSizeFit.fit(measurements.map { (Double($0.globalBatch), $0.steps) }),
                  let stepTime = StepTimeModel.fit(runs, profiles: profiles), let first = runs.first
            else { return nil }
            let excess = measurements.map {
                $0.seconds - $0.steps * stepTime.seconds(ranks: $0.ranks, globalBatch: $0.globalBatch)
            }
            return Study(folder: first.folder, series: members[0].series, rows: first.rows,
                         measurements: measurements, runs: runs, steps: steps, stepTime: stepTime,
                         startSeconds: BatchSizeSweeps.median(excess) ?? 0)
        }.sorted { ($0.folder, $0.series) < ($1.folder, $1.series) }
    }

    /// Per (rank count, batch) that reached the target: the rate with the fewest median steps, with its medians.
    /// A repeat that never reached the target, or diverged (at a rate near the edge of stability some repeats do),
    /// counts as infinitely many steps and seconds, so a rate most of whose repeats missed it is not taken for one
    /// that reached it (the median of those that did would flatter it).
    public static func measure(_ runs: [RunRecord]) -> [Measurement] {
        let byRate = Dictionary(grouping: runs) { "\($0.ranks)|\($0.globalBatch)|\($0.learningRate)" }
        let candidates = byRate.values.compactMap { repeats -> Measurement? in
            let stepsEach = repeats.map { $0.finished ? $0.stepsToTarget ?? .infinity : .infinity }
            let secondsEach = repeats.map { $0.finished ? $0.secondsToTarget ?? .infinity : .infinity }
            let steps = BatchSizeSweeps.median(stepsEach)!
            let seconds = BatchSizeSweeps.median(secondsEach)!
            guard steps.isFinite, seconds.isFinite else { return nil }
            func spread(_ values: [Double], _ median: Double) -> Double? {
                repeats.count > 1 ? BatchSizeSweeps.median(values.map { abs($0 / median - 1) }) : nil
            }
            return Measurement(ranks: repeats[0].ranks, globalBatch: repeats[0].globalBatch,
                               learningRate: repeats[0].learningRate, steps: steps, seconds: seconds,
                               repeats: repeats.count,
                               stepsSpread: spread(stepsEach, steps), secondsSpread: spread(secondsEach, seconds))
        }
        return Dictionary(grouping: candidates) { "\($0.ranks)|\($0.globalBatch)" }.values.map { rates in
            rates.min { ($0.steps, $0.learningRate) < ($1.steps, $1.learningRate) }!
        }.sorted { ($0.ranks, $0.globalBatch) < ($1.ranks, $1.globalBatch) }
    }

    /// The prediction of `study` at one (rank count, batch).
    static func predict(_ study: Study, ranks: Int, globalBatch: Int) -> Prediction {
        let steps = study.steps.steps(batch: Double(globalBatch))
        let perStep = study.stepTime.seconds(ranks: ranks, globalBatch: globalBatch)
        var low: Double?, high: Double?
        let seconds = study.startSeconds + steps * perStep
        if let stepsDeviation = study.steps.logResidualDeviation, perStep > 0, seconds > 0,
           let timeError = study.stepTime.predictionError(ranks: ranks, globalBatch: globalBatch) {
            let spread = quantile * sqrt(stepsDeviation * stepsDeviation + pow(timeError / perStep, 2))
            low = seconds * exp(-spread)
            high = seconds * exp(spread)
        }
        let batches = study.measurements.map(\.globalBatch)
        return Prediction(
            folder: study.folder, series: study.series, ranks: ranks, globalBatch: globalBatch, predictedSteps: steps,
            secondsPerStep: perStep, startSeconds: study.startSeconds, predictedSecondsLow: low, predictedSecondsHigh: high,
            measured: study.measurements.first { $0.ranks == ranks && $0.globalBatch == globalBatch },
            extrapolated: !study.stepTime.rankCounts.contains(ranks)
                || globalBatch < batches.min()! || globalBatch > batches.max()!)
    }

    /// Predictions for every (rank count, batch) of the lists, per study. By default the batches are the swept
    /// ones and the powers of two up to four times the largest, the rank counts the measured ones and the powers
    /// of two up to 1,024; pairs that cannot run (a batch below the rank count, or above the training rows) are
    /// left out, and so are rank counts where nothing says what the allreduce costs (runs at one rank and no
    /// network profile).
    public static func predictions(
        _ rows: [ScalingRow], ranks: [Int]? = nil, batches: [Int]? = nil, profiles: [NetworkProfile] = []
    ) -> [Prediction] {
        studies(rows, profiles: profiles).flatMap { study -> [Prediction] in
            let swept = Set(study.measurements.map(\.globalBatch))
            let largest = swept.max()!
            let batchList = batches ?? Array(swept.union(powersOfTwo(upTo: 4 * largest))).sorted()
            let measuredRanks = study.stepTime.rankCounts
            let rankList = (ranks ?? Array(Set(measuredRanks).union(powersOfTwo(upTo: 1024))).sorted())
                .filter(study.stepTime.predicts(ranks:))
            return rankList.flatMap { n in
                batchList.filter { $0 >= n && $0 <= study.rows }.map { predict(study, ranks: n, globalBatch: $0) }
            }
        }
    }

    static func powersOfTwo(upTo limit: Int) -> [Int] {
        var powers: [Int] = []
        var value = 1
        while value <= limit {
            powers.append(value)
            value *= 2
        }
        return powers
    }

    /// One held-out check: a batch left out of both fits, predicted at a rank count that measured it.
    public struct Check: Sendable {
        public var prediction: Prediction
        public var measured: Measurement
        /// Predicted over measured, minus one.
        public var stepsError: Double { prediction.predictedSteps / measured.steps - 1 }
        public var secondsError: Double { prediction.predictedSeconds / measured.seconds - 1 }
        /// Whether the measured seconds fell inside the prediction's interval (nil without one).
        public var inside: Bool? {
            guard let low = prediction.predictedSecondsLow, let high = prediction.predictedSecondsHigh else { return nil }
            return low <= measured.seconds && measured.seconds <= high
        }
    }

    /// What validation holds out in turn.
    public enum HeldOut: String, CaseIterable, Sendable {
        /// Each batch: predicted at the rank counts that measured it, from the other batches.
        case batch
        /// Each rank count: every batch measured there predicted from the other rank counts' runs (the allreduce
        /// from the network profiles when given, so 2 ranks can be predicted from runs at 1).
        case ranks
    }

    /// Leave one out: for every batch (or rank count) a study measured, both fits are made again without its runs,
    /// and each of its measurements is predicted from the rest; only those at `ranks` and `batches` when given.
    public static func validation(
        _ rows: [ScalingRow], holdingOut heldOut: HeldOut = .batch, profiles: [NetworkProfile] = [],
        ranks: [Int]? = nil, batches: [Int]? = nil
    ) -> [Check] {
        studies(rows, profiles: profiles).flatMap { study -> [Check] in
            let studyRows = rows.filter { $0.run.folder == study.folder && $0.series == study.series }
            let values = Set(study.measurements.map { heldOut == .batch ? $0.globalBatch : $0.ranks }).sorted()
            return values.flatMap { value -> [Check] in
                let rest = heldOut == .batch
                    ? studies(studyRows, excludingBatch: value, profiles: profiles)
                    : studies(studyRows, excludingRanks: value, profiles: profiles)
                guard let without = rest.first else { return [] }
                let held = study.measurements.filter {
                    (heldOut == .batch ? $0.globalBatch : $0.ranks) == value
                        && ranks?.contains($0.ranks) != false && batches?.contains($0.globalBatch) != false
                }
                return held.filter { without.stepTime.predicts(ranks: $0.ranks) }.map { measured in
                    Check(prediction: predict(without, ranks: measured.ranks, globalBatch: measured.globalBatch),
                          measured: measured)
                }
            }
        }
    }
}
