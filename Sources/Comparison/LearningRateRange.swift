/// `compare --lr-range`: for each sweep, rank count and global batch, the learning rates that ran, the largest that
/// finished without diverging, the smallest that diverged, and the one that reached the target soonest: the "best
/// rate against batch" curve of Shallue et al. 2018, with divergence as the bound on the usable rate.
public enum LearningRateRange {
    /// One (sweep, rank count, global batch).
    public struct Row: Sendable {
        public var folder: String
        public var series: String
        public var ranks: Int
        public var globalBatch: Int
        /// How many runs (learning rates) there are, and how many of them diverged.
        public var runs: Int
        public var diverged: Int
        /// The largest rate of a run that finished; nil when none did.
        public var largestStableRate: Double?
        /// The smallest rate of a run that diverged; nil when none did.
        public var smallestDivergedRate: Double?
        /// The finished run that reached the target soonest; nil when none did.
        public var fastest: RunRecord?
    }

    public static func rows(_ rows: [ScalingRow]) -> [Row] {
        let usable = rows.filter { !$0.run.mixesRankCounts && !$0.run.adaptsBatch }
        let groups = Dictionary(grouping: usable) { row in
            "\(row.run.folder)|\(row.series)|\(row.run.ranks)|\(row.run.globalBatch)"
        }
        return groups.values.map { members -> Row in
            let runs = members.map(\.run)
            let finished = runs.filter(\.finished)
            let diverged = runs.filter { $0.status == "diverged" }
            let reached = finished.filter { $0.secondsToTarget != nil }
            return Row(
                folder: runs[0].folder, series: members[0].series, ranks: runs[0].ranks,
                globalBatch: runs[0].globalBatch, runs: runs.count, diverged: diverged.count,
                largestStableRate: finished.map(\.learningRate).max(),
                smallestDivergedRate: diverged.map(\.learningRate).min(),
                fastest: reached.min { ($0.secondsToTarget!, $0.source) < ($1.secondsToTarget!, $1.source) })
        }.sorted { ($0.folder, $0.series, $0.ranks, $0.globalBatch) < ($1.folder, $1.series, $1.ranks, $1.globalBatch) }
    }
}
