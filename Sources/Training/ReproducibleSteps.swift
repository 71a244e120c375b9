import Common
import Data
import Formats
import MPI
import Models

/// The steps and evaluations of `--reproducible`, whose results are bit-identical at any rank count.
///
/// Three rules make them so. Sampling: one seeded order of all training rows per epoch, each step taking the next
/// global batch of it; each rank computes the rows of the batch that live in its shard (possibly none). Arithmetic:
/// each row's gradient and loss come from a call for that row alone, with the kernel set every rank agreed on, so
/// they do not depend on the batch or the row's place in it. Reduction: every row's values enter exact sums
/// (``ExactSum``), reduced with an integer allreduce and rounded once. The cost: a model call per row, and an
/// allreduce of `4` Int64 limbs per parameter (twice that with the noise scale) instead of one Float.
final class ReproducibleSteps<Group: Collective> {
    private let model: any Model
    private let shard: TrainingShard
    private let layout: ShardLayout
    private let collective: Group
    private var order: EpochOrder
    private let estimatesNoise: Bool
    private let parameterCount: Int
    private let limbs = ExactSum.narrowLimbs
    /// The allreduced buffer: the exact gradient sums of the batch's first half and of its second half (one sum of
    /// the whole batch without the noise scale), values too large for them, and rows.
    private let buffer: UnsafeMutableBufferPointer<Int64>
    /// One row's gradient.
    private let rowGradient: UnsafeMutableBufferPointer<Float>

    init(model: any Model, shard: TrainingShard, layout: ShardLayout, collective: Group, seed: UInt64,
         estimatesNoise: Bool) {
        self.model = model
        self.shard = shard
        self.layout = layout
        self.collective = collective
        self.estimatesNoise = estimatesNoise
        parameterCount = model.parameters.count
        order = EpochOrder(seed: seed, rank: nil, shardRows: layout.rows)
        buffer = .allocate(capacity: reproducibleAllreducedValues(parameterCount: parameterCount, estimatesNoise: estimatesNoise))
        rowGradient = .allocateLineAligned(count: parameterCount)
    }

    deinit {
        buffer.deallocate()
        rowGradient.deallocateLineAligned()
    }

    /// Draws the order of all training rows for `epoch`.
    func shuffle(epoch: Int) { order.shuffle(epoch: epoch) }

    /// Writes step `step`'s allreduced gradient into `reduced` in the trainer's layout (the gradient sums, the noise
    /// scale's `n t` and `n` when it is on, the rows), the same bits on every rank at any rank count. A value too
    /// large for the exact sums makes the gradient NaN, so the trainer ends the run as diverged on every rank.
    ///
    /// - Returns: nanoseconds spent in the allreduce when `timed`.
    func gradient(
        ofStep step: Int, into reduced: UnsafeMutableBufferPointer<Float>, timed: Bool, stop: Bool
    ) throws -> UInt64 {
        let sums = buffer.baseAddress!
        buffer.update(repeating: 0)
        let slots = layout.slots(ofStep: step)
        let firstRows = slots.count / 2
        let halfSums = parameterCount * limbs
        let width = shard.inputWidth
        let first = shard.rows.lowerBound
        var refused: Int64 = 0
        var rows: Int64 = 0
        shard.inputs.withUnsafeBufferPointer { inputs in
            shard.targets.withUnsafeBufferPointer { targets in
                order.positions.withUnsafeBufferPointer { positions in
                    for slot in slots {
                        let row = positions[slot]
                        guard shard.rows.contains(row) else { continue }
                        let local = row - first
                        model.accumulateGradient(
                            inputs: inputs.baseAddress! + local * width, targets: targets.baseAddress! + local,
                            count: 1, into: rowGradient.baseAddress!)
                        let target = sums + (estimatesNoise && slot - slots.lowerBound >= firstRows ? halfSums : 0)
                        for index in 0..<parameterCount
                        where !ExactSum.add(Double(rowGradient[index]), to: target + index * limbs, limbs: limbs) {
                            refused += 1
                        }
                        rows += 1
                    }
                }
            }
        }
        let tail = buffer.count - 3
        buffer[tail] = refused
        buffer[tail + 1] = rows
        buffer[tail + 2] = stop ? 1 : 0
        let before = timed ? MonotonicClock.now() : 0
        try collective.allreduce(buffer, .sum)
        let allreduceNanoseconds = timed ? MonotonicClock.now() - before : 0

        var squaredDifference = 0.0
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: limbs) { total in
            let total = total.baseAddress!
            for index in 0..<parameterCount {
                let firstHalf = sums + index * limbs
                guard estimatesNoise else {
                    reduced[index] = ExactSum.float(firstHalf, limbs: limbs)
                    continue
                }
                let secondHalf = firstHalf + halfSums
                total.update(from: firstHalf, count: limbs)
                ExactSum.merge(secondHalf, into: total, limbs: limbs)
                reduced[index] = ExactSum.float(total, limbs: limbs)
                if firstRows > 0 {
                    let difference = ExactSum.double(firstHalf, limbs: limbs) / Double(firstRows)
                        - ExactSum.double(secondHalf, limbs: limbs) / Double(slots.count - firstRows)
                    squaredDifference += difference * difference
                }
            }
        }
        if buffer[tail] > 0 { reduced[0] = .nan }
        if estimatesNoise {
            // The halves of the global batch are disjoint draws from all rows: n t = |g1 - g2|^2 h1 h2.
            let estimate = Float(squaredDifference * Double(firstRows) * Double(slots.count - firstRows))
            let counts = firstRows > 0 && estimate.isFinite
            reduced[parameterCount] = counts ? estimate : 0
            reduced[parameterCount + 1] = counts ? Float(slots.count) : 0
        }
        reduced[reduced.count - 1] = Float(buffer[tail + 2])
        RowCountDigits.store(
            Int(buffer[tail + 1]), into: reduced.baseAddress! + reduced.count - 1 - RowCountDigits.slots)
        return allreduceNanoseconds
    }

    /// The mean loss over the training rows (the evaluation `sample`'s, when there is one) and, when there are any,
    /// the held-out rows: each row's loss from a call for that row alone, summed exactly; NaN when a loss is too
    /// large for the sums.
    func evaluate(sample: EvaluationSample?) throws -> (loss: Double, validation: Double?) {
        var totals = [Int64](repeating: 0, count: 2 * limbs + 1)
        func add(_ inputs: [Float], _ targets: [Float], rows: Int, at offset: Int) {
            let width = shard.inputWidth
            inputs.withUnsafeBufferPointer { inputs in
                targets.withUnsafeBufferPointer { targets in
                    totals.withUnsafeMutableBufferPointer { totals in
                        let sum = totals.baseAddress! + offset
                        for row in 0..<rows {
                            // Carried now and then, and before the allreduce: a sum over all rows of all ranks may
                            // take far more than ExactSum.safeAdditions additions.
                            if row % ExactSum.safeAdditions == ExactSum.safeAdditions - 1
                                && !ExactSum.carry(sum, limbs: limbs) { totals[2 * limbs] += 1 }
                            let loss = model.squaredErrorSum(
                                inputs: inputs.baseAddress! + row * width, targets: targets.baseAddress! + row,
                                count: 1)
                            if !ExactSum.add(loss, to: sum, limbs: limbs) {
                                totals[2 * limbs] += 1
                            }
                        }
                        if !ExactSum.carry(sum, limbs: limbs) { totals[2 * limbs] += 1 }
                    }
                }
            }
        }
        if let sample {
            add(sample.inputs, sample.targets, rows: sample.count, at: 0)
        } else {
            add(shard.inputs, shard.targets, rows: shard.rows.count, at: 0)
        }
        add(shard.validationInputs, shard.validationTargets, rows: shard.validationRows.count, at: limbs)
        try collective.allreduce(&totals, .sum)
        guard totals[2 * limbs] == 0 else { return (.nan, nil) }
        let loss = totals.withUnsafeBufferPointer { ExactSum.double($0.baseAddress!, limbs: limbs) }
            / Double(sample?.total ?? layout.rows)
        guard shard.validationRowsTotal > 0 else { return (loss, nil) }
        let validation = totals.withUnsafeBufferPointer { ExactSum.double($0.baseAddress! + limbs, limbs: limbs) }
        return (loss, validation / Double(shard.validationRowsTotal))
    }
}

/// The Int64 values of each step's allreduce in the reproducible mode: one exact sum per parameter (two, the
/// batch's halves, with the noise scale), then the refused count, the rows and the stop flag.
func reproducibleAllreducedValues(parameterCount: Int, estimatesNoise: Bool) -> Int {
    (estimatesNoise ? 2 : 1) * parameterCount * ExactSum.narrowLimbs + 3
}
