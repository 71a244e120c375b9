import Common
/// How the training rows are split into per-rank shards and how each step's global batch is shared.
///
/// An epoch is a sequence of `rows` slots; slot `k` belongs to rank `k mod ranks`. Shards are contiguous and
/// the larger ones (one row more) go to the lower ranks, so a rank's shard size equals its number of slots.
/// Step `s` takes slots `s * globalBatch ..< (s + 1) * globalBatch` (the last step of an epoch may be short),
/// and each rank fills its slots of that range, in order, from its own shard's order for the epoch. So every
/// row is used once per epoch, every step has the exact global batch, and shares differ by at most one.
public struct ShardLayout: Equatable, Sendable {
    /// The number of training rows (slots per epoch).
    public let rows: Int
    /// The number of ranks.
    public let ranks: Int
    /// The examples in one full step, across all ranks.
    public let globalBatch: Int

    /// Creates a layout; requires `1 <= ranks <= rows` and `1 <= globalBatch <= rows`. The default mode also needs
    /// `globalBatch >= ranks` (every rank fills its slots of every step), which the job checks; `--reproducible`
    /// draws each step's rows from all shards and does not.
    public init(rows: Int, ranks: Int, globalBatch: Int) {
        precondition(ranks >= 1 && rows >= ranks && globalBatch >= 1 && globalBatch <= rows)
        self.rows = rows
        self.ranks = ranks
        self.globalBatch = globalBatch
    }

    /// The rows of the training set that `rank` holds.
    public func shard(of rank: Int) -> Range<Int> {
        let base = rows / ranks
        let extra = rows % ranks
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// The shard size of every rank, in rank order.
    public var shardSizes: [Int] { (0..<ranks).map { shard(of: $0).count } }

    /// Steps per epoch: `ceil(rows / globalBatch)`, the same on every rank.
    public var stepsPerEpoch: Int { (rows + globalBatch - 1) / globalBatch }

    /// The slots (positions in the epoch) that step `step` covers, across all ranks.
    public func slots(ofStep step: Int) -> Range<Int> {
        let start = step * globalBatch
        return start..<min(start + globalBatch, rows)
    }

    /// The positions in `rank`'s epoch order that step `step` uses: a contiguous range.
    public func localPositions(ofStep step: Int, rank: Int) -> Range<Int> {
        localPositions(ofSlots: slots(ofStep: step), rank: rank)
    }

    /// The positions in `rank`'s epoch order that a step over the epoch's `slots` uses (any range: a run whose batch
    /// changes takes the next `batch` slots each step).
    public func localPositions(ofSlots slots: Range<Int>, rank: Int) -> Range<Int> {
        slotsOwned(before: slots.lowerBound, by: rank)..<slotsOwned(before: slots.upperBound, by: rank)
    }

    /// How many of the slots `0 ..< slot` belong to `rank`.
    public func slotsOwned(before slot: Int, by rank: Int) -> Int {
        // One rank owns every slot: no division (two 64-bit divisions were a visible share of the one-rank sgd step).
        if ranks == 1 { return slot }
        return slot > rank ? (slot - rank - 1) / ranks + 1 : 0
    }
}
