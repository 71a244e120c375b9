import Common
import Testing
import Data

@Suite("Seeded epoch orders and the generator")
struct EpochOrderTests {
    @Test("an epoch's order is a permutation fixed by seed, epoch and rank alone")
    func deterministicPermutation() {
        var first = EpochOrder(seed: 42, rank: 3, shardRows: 94)
        var second = EpochOrder(seed: 42, rank: 3, shardRows: 94)
        first.shuffle(epoch: 5)
        second.shuffle(epoch: 1)
        second.shuffle(epoch: 5)
        #expect(first.positions == second.positions, "no dependence on earlier epochs")
        #expect(first.positions.sorted() == Array(0..<94))
        #expect(first.positions != Array(0..<94))
    }

    @Test("orders differ between epochs, ranks and seeds")
    func ordersDiffer() {
        func order(seed: UInt64, rank: Int, epoch: Int) -> [Int] {
            var order = EpochOrder(seed: seed, rank: rank, shardRows: 50)
            order.shuffle(epoch: epoch)
            return order.positions
        }
        let base = order(seed: 1, rank: 0, epoch: 0)
        #expect(base != order(seed: 1, rank: 0, epoch: 1))
        #expect(base != order(seed: 1, rank: 1, epoch: 0))
        #expect(base != order(seed: 2, rank: 0, epoch: 0))
    }

    @Test("the generator repeats its sequence for a seed, and its normals have mean 0 and deviation 1")
    func generator() {
        var first = SeededGenerator(seed: 9, stream: 1, 2)
        var second = SeededGenerator(seed: 9, stream: 1, 2)
        #expect((0..<10).map { _ in first.next() } == (0..<10).map { _ in second.next() })
        var normals = SeededGenerator(seed: 3)
        let samples = (0..<20000).map { _ in normals.nextNormal() }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1) < 0.05)
    }
}
