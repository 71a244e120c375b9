import Common
/// The seeded order in which one rank visits its shard during an epoch, or in which `--reproducible` visits all
/// training rows.
///
/// Each epoch's order is a fresh Fisher-Yates shuffle drawn from `(seed, epoch, rank)` alone (or `(seed, epoch)`
/// for the whole data set), so it does not depend on earlier epochs (a resumed run can recreate any epoch directly)
/// and every rank's order is its own.
public struct EpochOrder: Sendable {
    /// The run's seed.
    public let seed: UInt64
    /// The rank whose shard this orders; nil for the order of the whole data set.
    public let rank: Int?
    /// The current permutation of `0 ..< shardRows`.
    public private(set) var positions: [Int]

    /// Creates the order for a shard of `shardRows` rows (the identity until ``shuffle(epoch:)``).
    public init(seed: UInt64, rank: Int?, shardRows: Int) {
        self.seed = seed
        self.rank = rank
        positions = Array(0..<shardRows)
    }

    /// Makes ``positions`` the order for `epoch`, reusing its storage.
    public mutating func shuffle(epoch: Int) {
        var generator = rank.map { SeededGenerator(seed: seed, stream: 1, UInt64(epoch), UInt64($0)) }
            ?? SeededGenerator(seed: seed, stream: 3, UInt64(epoch))
        let count = positions.count
        positions.withUnsafeMutableBufferPointer { order in
            for index in 0..<count { order[index] = index }
            guard count > 1 else { return }
            for index in stride(from: count - 1, to: 0, by: -1) {
                // A uniform draw from 0...index as the high word of a 64 x 64-bit product (Lemire), not `%`: a
                // 64-bit division per row was a fifth of the linear model's epoch.
                let other = Int(generator.next().multipliedFullWidth(by: UInt64(index + 1)).high)
                order.swapAt(index, other)
            }
        }
    }
}
