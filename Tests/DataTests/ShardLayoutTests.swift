import Common
import Testing
import Data

@Suite("Shards, slots and per-step shares")
struct ShardLayoutTests {
    @Test("1500 rows on 16 ranks: 12 shards of 94 and 4 of 93, contiguous, larger ones first")
    func airfoilOn16Ranks() {
        let layout = ShardLayout(rows: 1500, ranks: 16, globalBatch: 100)
        #expect(layout.shardSizes == Array(repeating: 94, count: 12) + Array(repeating: 93, count: 4))
        var next = 0
        for rank in 0..<16 {
            #expect(layout.shard(of: rank).lowerBound == next)
            next = layout.shard(of: rank).upperBound
        }
        #expect(next == 1500)
        #expect(layout.stepsPerEpoch == 15)
    }

    @Test("every step gives each rank its share (differing by at most one), and every row is used once per epoch",
          arguments: [(1500, 16, 100), (1500, 4, 10), (1500, 1, 1), (1500, 16, 16), (1500, 16, 1500), (1500, 7, 97),
                      (10, 3, 4), (5, 5, 5), (1503, 2, 1503)])
    func sharesCoverTheEpoch(rows: Int, ranks: Int, batch: Int) {
        let layout = ShardLayout(rows: rows, ranks: ranks, globalBatch: batch)
        #expect(layout.stepsPerEpoch == (rows + batch - 1) / batch)
        var used = Array(repeating: 0, count: ranks)
        for step in 0..<layout.stepsPerEpoch {
            let shares = (0..<ranks).map { layout.localPositions(ofStep: step, rank: $0) }
            let counts = shares.map(\.count)
            #expect(counts.reduce(0, +) == layout.slots(ofStep: step).count)
            #expect(counts.max()! - counts.min()! <= 1)
            if layout.slots(ofStep: step).count == batch { #expect(counts.min()! >= 1) }
            for rank in 0..<ranks {
                #expect(shares[rank].lowerBound == used[rank], "positions are consumed in order")
                used[rank] = shares[rank].upperBound
            }
        }
        #expect(used == layout.shardSizes, "each rank's slot count equals its shard size")
    }

    @Test("the last step of an epoch may be short: 1500 rows in batches of 1000")
    func shortLastStep() {
        let layout = ShardLayout(rows: 1500, ranks: 4, globalBatch: 1000)
        #expect(layout.slots(ofStep: 0) == 0..<1000)
        #expect(layout.slots(ofStep: 1) == 1000..<1500)
    }
}
