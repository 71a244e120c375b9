import Data
import Formats
import Foundation
import Testing
import Training

/// Which global rows a run uses in an epoch, counted from the same shard layout and sample orders the trainer uses.
@Suite("Resuming at another rank count")
struct ResumeRowUseTests {
    static let rows = 1003
    static let batch = 10
    static let seed: UInt64 = 42

    /// Adds one use to `uses[row]` for every row the steps `steps` of `epoch` take on `ranks` ranks.
    static func countUses(epoch: Int, steps: Range<Int>, ranks: Int, into uses: inout [Int]) {
        let layout = ShardLayout(rows: rows, ranks: ranks, globalBatch: batch)
        for rank in 0..<ranks {
            let shard = layout.shard(of: rank)
            var order = EpochOrder(seed: seed, rank: rank, shardRows: shard.count)
            order.shuffle(epoch: epoch)
            for step in steps {
                for position in layout.localPositions(ofStep: step, rank: rank) {
                    uses[shard.lowerBound + order.positions[position]] += 1
                }
            }
        }
    }

    static func checkpoint(ranks: Int, epoch: Int, stepInEpoch: Int) -> Checkpoint {
        let layout = ShardLayout(rows: rows, ranks: ranks, globalBatch: batch)
        let step = epoch * layout.stepsPerEpoch + stepInEpoch
        return Checkpoint(
            configuration: TrainingConfiguration(dataPath: "d.dat", globalBatch: batch, epochs: 3, seed: seed),
            data: DataDescription(path: "d.dat", fileRows: rows, trainingRows: rows, features: 5),
            means: [], standardDeviations: [], ranks: ranks,
            state: TrainingState(
                parameters: [], optimizerFirst: [], optimizerSecond: [], optimizerUpdates: step, epoch: epoch,
                stepInEpoch: stepInEpoch, step: step, examples: epoch * rows + stepInEpoch * batch,
                nextEval: epoch * rows + stepInEpoch * batch + 1, trainSeconds: 0, initialLoss: 1, lastLoss: 1))
    }

    @Test("a 4-rank checkpoint written mid-epoch, resumed on 3 ranks, uses no row twice in that epoch and every row once after")
    func fourToThreeRanks() {
        let stepsPerEpoch = (Self.rows + Self.batch - 1) / Self.batch
        let written = Self.checkpoint(ranks: 4, epoch: 1, stepInEpoch: 37)
        let layout = ShardLayout(rows: Self.rows, ranks: 3, globalBatch: Self.batch)
        let (resumed, skipped, _) = written.resumePoint(ranks: 3, layout: layout)

        var interrupted = [Int](repeating: 0, count: Self.rows)
        Self.countUses(epoch: 1, steps: 0..<37, ranks: 4, into: &interrupted)
        if resumed.epoch == 1 {
            Self.countUses(epoch: 1, steps: resumed.stepInEpoch..<stepsPerEpoch, ranks: 3, into: &interrupted)
        }
        #expect(interrupted.max() == 1, "\(interrupted.filter { $0 > 1 }.count) rows used twice in the resumed epoch")
        #expect(skipped == stepsPerEpoch - 37)
        #expect(resumed.epoch == 2 && resumed.stepInEpoch == 0 && resumed.step == 2 * stepsPerEpoch)
        #expect(resumed.examples == 2 * Self.rows)

        var next = [Int](repeating: 0, count: Self.rows)
        Self.countUses(epoch: resumed.epoch, steps: 0..<stepsPerEpoch, ranks: 3, into: &next)
        #expect(next.allSatisfy { $0 == 1 })
    }

    @Test("on the rank count that wrote it, or at an epoch boundary, a checkpoint continues exactly where it stopped")
    func sameRanksOrBoundary() {
        let layout4 = ShardLayout(rows: Self.rows, ranks: 4, globalBatch: Self.batch)
        let midEpoch = Self.checkpoint(ranks: 4, epoch: 1, stepInEpoch: 37)
        #expect(midEpoch.resumePoint(ranks: 4, layout: layout4).state == midEpoch.state)
        #expect(midEpoch.resumePoint(ranks: 4, layout: layout4).skippedSteps == 0)
        let boundary = Self.checkpoint(ranks: 4, epoch: 2, stepInEpoch: 0)
        let layout3 = ShardLayout(rows: Self.rows, ranks: 3, globalBatch: Self.batch)
        #expect(boundary.resumePoint(ranks: 3, layout: layout3).state == boundary.state)

        // Without the change of rank count, the resumed epoch uses every row exactly once.
        var uses = [Int](repeating: 0, count: Self.rows)
        Self.countUses(epoch: 1, steps: 0..<37, ranks: 4, into: &uses)
        Self.countUses(epoch: 1, steps: 37..<layout4.stepsPerEpoch, ranks: 4, into: &uses)
        #expect(uses.allSatisfy { $0 == 1 })
    }
}
