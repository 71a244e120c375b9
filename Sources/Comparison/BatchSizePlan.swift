import Formats

/// `compare --plan`: for each batch-size sweep and rank count, the global batch predicted to reach the target
/// soonest, from the fitted steps S(B) and the measured seconds per step at that rank count and batch, beside what
/// the sweep measured.
///
/// The candidates are the batches the sweep ran at that rank count (a step time is measured, not modelled). The
/// prediction smooths what a single run measures: its steps-to-target are only as fine as its evaluations, and its
/// time is one sample on a shared machine.
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
        /// The median training seconds per step of the sweep's runs at this rank count and batch.
        public var secondsPerStep: Double
        public var predictedSeconds: Double { predictedSteps * secondsPerStep }
        /// The fastest time to the target the sweep measured at this rank count and batch (over its learning
        /// rates), if a run reached it.
        public var measuredSeconds: Double?
        /// Predicted over measured seconds, minus one.
        public var error: Double? { measuredSeconds.map { predictedSeconds / $0 - 1 } }
        /// The run that reached the target soonest at this rank count, whatever its batch.
        public var best: RunRecord?
    }

    /// The plan of every fitted sweep (``BatchSizeSweeps/fits(_:)``), using `rows` for the measured step times.
    public static func rows(fits: [BatchSizeSweeps.Row], rows: [ScalingRow]) -> [Row] {
        fits.compactMap { fit -> Row? in
            // The sweep's runs at this rank count: same folder and series (the fit's runs reached the target; the
            // step times also come from those that did not).
            let sweep = rows.filter {
                $0.run.folder == fit.folder && $0.series == fit.series && $0.run.ranks == fit.ranks
                    && !$0.run.mixesRankCounts && ($0.run.secondsPerStep ?? 0) > 0
            }.map(\.run)
            let batches = Set(sweep.map(\.globalBatch))
            let candidates = batches.map { batch -> (batch: Int, steps: Double, secondsPerStep: Double) in
                let times = sweep.filter { $0.globalBatch == batch }.compactMap(\.secondsPerStep)
                return (batch, fit.fit.steps(batch: Double(batch)), BatchSizeSweeps.median(times)!)
            }
            guard let chosen = candidates.min(by: {
                ($0.steps * $0.secondsPerStep, $0.batch) < ($1.steps * $1.secondsPerStep, $1.batch)
            }) else { return nil }
            let reached = sweep.filter { $0.secondsToTarget != nil }
            return Row(
                folder: fit.folder, series: fit.series, ranks: fit.ranks, batch: chosen.batch,
                predictedSteps: chosen.steps, secondsPerStep: chosen.secondsPerStep,
                measuredSeconds: reached.filter { $0.globalBatch == chosen.batch }.map { $0.secondsToTarget! }.min(),
                best: reached.min { ($0.secondsToTarget!, $0.source) < ($1.secondsToTarget!, $1.source) })
        }
    }
}
