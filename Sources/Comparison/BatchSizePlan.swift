import Formats

/// `compare --plan`: for each sweep and each rank count it measured, the global batch predicted to reach the target
/// soonest (``TimeToTarget``: the fitted steps S(B) times the fitted seconds per step T(N, B), plus the start-up
/// excess), beside what the sweep measured.
///
/// The candidates are the swept batches and the powers of two between the smallest and the largest swept batch: a
/// batch nobody ran can be the answer, but the plan does not extrapolate past the batches measured.
public struct BatchSizePlan: Sendable {
    /// One rank count's plan.
    public struct Row: Sendable {
        public var folder: String
        public var series: String
        public var ranks: Int
        /// The batch predicted to reach the target soonest.
        public var batch: Int
        /// S(batch) from the fit.
        public var predictedSteps: Double
        /// T(ranks, batch) from the fit.
        public var secondsPerStep: Double
        public var predictedSeconds: Double
        /// Whether a run measured this rank count and batch.
        public var swept: Bool
        /// The fastest time to the target the sweep measured at this rank count and batch (over its learning
        /// rates), if a run reached it.
        public var measuredSeconds: Double?
        /// Predicted over measured seconds, minus one.
        public var error: Double? { measuredSeconds.map { predictedSeconds / $0 - 1 } }
        /// The run that reached the target soonest at this rank count, whatever its batch.
        public var best: RunRecord?
    }

    /// The plan of every study (``TimeToTarget/studies(_:excludingBatch:)``) at each rank count it measured.
    public static func rows(studies: [TimeToTarget.Study]) -> [Row] {
        studies.flatMap { study -> [Row] in
            let swept = Set(study.measurements.map(\.globalBatch))
            let candidates = swept.union(TimeToTarget.powersOfTwo(upTo: swept.max()!).filter { $0 >= swept.min()! })
            return study.stepTime.rankCounts.compactMap { ranks -> Row? in
                let predictions = candidates.filter { $0 >= ranks && $0 <= study.rows }.map {
                    TimeToTarget.predict(study, ranks: ranks, globalBatch: $0)
                }
                guard let chosen = predictions.min(by: {
                    ($0.predictedSeconds, $0.globalBatch) < ($1.predictedSeconds, $1.globalBatch)
                }) else { return nil }
                let reached = study.runs.filter { $0.finished && $0.ranks == ranks && $0.secondsToTarget != nil }
                return Row(
                    folder: study.folder, series: study.series, ranks: ranks, batch: chosen.globalBatch,
                    predictedSteps: chosen.predictedSteps, secondsPerStep: chosen.secondsPerStep,
                    predictedSeconds: chosen.predictedSeconds,
                    swept: study.runs.contains { $0.ranks == ranks && $0.globalBatch == chosen.globalBatch },
                    measuredSeconds: reached.filter { $0.globalBatch == chosen.globalBatch }.map { $0.secondsToTarget! }.min(),
                    best: reached.min { ($0.secondsToTarget!, $0.source) < ($1.secondsToTarget!, $1.source) })
            }
        }
    }
}
