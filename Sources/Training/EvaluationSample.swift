import Common
import Data

/// The training rows the periodic evaluations walk (`--eval-rows`): on large data a fixed sample, so that an
/// evaluation costs what the sample costs, not what the data set costs.
///
/// The sample is drawn once from the run's seed, from the training row count alone, so it is the same rows at any
/// rank count and across a resume; each rank evaluates the sampled rows of its own shard (a uniform sample spreads
/// over the ranks as the rows do). The loss before training and the divergence check use it too, so they compare
/// like with like; the summary's `final_loss` is over every training row.
public struct EvaluationSample {
    /// Evaluations walk every training row up to this many, and a sample of this many beyond.
    public static let defaultRows = 65_536

    /// The rows each evaluation uses when they are a sample of the `trainingRows`, nil when they are every row:
    /// `requested` (`--eval-rows`) or ``defaultRows``, every row when that is as many.
    public static func size(requested: Int?, trainingRows: Int) -> Int? {
        let size = requested ?? defaultRows
        return size < trainingRows ? size : nil
    }

    /// `count` distinct rows of `0 ..< rows`, increasing, drawn from `seed` by Floyd's algorithm (each draw an
    /// integer below `j + 1` from the high half of a 64-by-64-bit product: the same on every platform).
    public static func rows(count: Int, of rows: Int, seed: UInt64) -> [Int] {
        precondition(count >= 0 && count <= rows)
        var generator = SeededGenerator(seed: seed, stream: 6)
        var chosen = Set<Int>(minimumCapacity: count)
        for j in (rows - count)..<rows {
            let draw = Int(generator.next().multipliedFullWidth(by: UInt64(j + 1)).high)
            chosen.insert(chosen.contains(draw) ? j : draw)
        }
        return chosen.sorted()
    }

    /// This rank's sampled rows, gathered from its shard: `count` rows of inputs (with the bias input) and targets.
    let inputs: [Float]
    let targets: [Float]
    let count: Int
    /// The sampled rows across all ranks.
    let total: Int

    /// Gathers the rows of a `total`-row sample drawn from `seed` that lie in `shard`.
    init(shard: TrainingShard, total: Int, seed: UInt64) {
        let sampled = Self.rows(count: total, of: shard.trainingRows, seed: seed)
        let first = sampled.partitioningIndex { $0 >= shard.rows.lowerBound }
        let end = sampled.partitioningIndex { $0 >= shard.rows.upperBound }
        let local = sampled[first..<end].map { $0 - shard.rows.lowerBound }
        let width = shard.inputWidth
        var inputs: [Float] = []
        inputs.reserveCapacity(local.count * width)
        for row in local { inputs += shard.inputs[(row * width)..<((row + 1) * width)] }
        self.inputs = inputs
        targets = local.map { shard.targets[$0] }
        count = local.count
        self.total = total
    }
}

extension Array {
    /// The first index whose element satisfies `belongs`, for a predicate false then true along the array.
    fileprivate func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var (low, high) = (0, count)
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
