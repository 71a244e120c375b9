import Common
import Data
import Formats
import Kernels
import MPI
import Models

/// The steps and evaluations of `--reproducible`, whose results are bit-identical at any rank count.
///
/// Three rules make them so. Sampling: one seeded order of all training rows per epoch, each step taking the next
/// global batch of it; each rank computes the rows of the batch that live in its shard (possibly none). Arithmetic:
/// the model is row-invariant (every row's forward and backward values are the same bits in any batch, with the
/// kernel set every rank agreed on), and each row's gradient terms are rounded to integers at a scale every rank
/// derives, before the step, from the parameters and the training data's largest values (``FixedPointScale``).
/// Reduction: the terms are summed as Int64 (associative), allreduced with an integer sum (associative whatever
/// algorithm MPI picks) and rounded once to Float. Losses are summed exactly (``ExactSum``).
///
/// The batch is computed as a batch: one forward and backward pass over the rank's rows of each half of it, the
/// weight gradients by the integer kernels; the allreduce carries one Int64 per parameter (two with the noise
/// scale, one per half).
final class ReproducibleSteps<Group: Collective> {
    private let model: any Model
    private let kernels: KernelSet
    private let shard: TrainingShard
    private let layout: ShardLayout
    private let collective: Group
    private var order: EpochOrder
    private let estimatesNoise: Bool
    private let parameterCount: Int
    private let limbs = ExactSum.narrowLimbs
    /// The model's blocks and, each step, their scales.
    private let blocks: [Range<Int>]
    private let scales: UnsafeMutableBufferPointer<FixedPointScale>
    /// The largest magnitude of each input column (the bias input's 1 last) and of any target over every rank's
    /// training rows: agreed by an allreduce before the first step.
    private var inputBounds: [Double] = []
    private var targetBound = 0.0
    /// The allreduced buffer: the integer gradient sums of the batch's first half and of its second half (one sum
    /// of the whole batch without the noise scale), then the rows and the stop flag.
    private let buffer: UnsafeMutableBufferPointer<Int64>
    /// The rank's rows in the epoch's order, gathered in the model's layout (by columns, each column
    /// ``TrainingShard/rows`` long), their targets, and each one's slot in the epoch (increasing): a step's rows, and
    /// each half's, are the gathered rows whose slots fall in its range, whatever the batch.
    private let epochInputs: UnsafeMutableBufferPointer<Float>
    private let epochTargets: UnsafeMutableBufferPointer<Float>
    private let ownSlots: UnsafeMutableBufferPointer<Int>
    /// The second half's sums when there are no halves (without the noise scale).
    private let zeros: UnsafeMutableBufferPointer<Int64>
    /// The rows' losses in the evaluations, ``Model/maxRows`` at a time.
    private let losses: UnsafeMutableBufferPointer<Double>

    init(model: any Model, kernels: KernelSet, shard: TrainingShard, layout: ShardLayout, collective: Group,
         seed: UInt64, estimatesNoise: Bool) {
        self.model = model
        self.kernels = kernels
        self.shard = shard
        self.layout = layout
        self.collective = collective
        self.estimatesNoise = estimatesNoise
        parameterCount = model.parameters.count
        order = EpochOrder(seed: seed, rank: nil, shardRows: layout.rows)
        blocks = model.parameterBlocks
        scales = .allocate(capacity: blocks.count)
        buffer = .allocate(capacity: reproducibleAllreducedValues(parameterCount: parameterCount, estimatesNoise: estimatesNoise))
        epochInputs = .allocateLineAligned(count: max(shard.rows.count, 1) * shard.inputWidth)
        epochTargets = .allocateLineAligned(count: max(shard.rows.count, 1))
        ownSlots = .allocate(capacity: max(shard.rows.count, 1))
        zeros = .allocate(capacity: estimatesNoise ? 0 : parameterCount)
        zeros.initialize(repeating: 0)
        losses = .allocate(capacity: model.maxRows)
    }

    deinit {
        buffer.deallocate()
        scales.deallocate()
        epochInputs.deallocateLineAligned()
        epochTargets.deallocateLineAligned()
        ownSlots.deallocate()
        zeros.deallocate()
        losses.deallocate()
    }

    /// Draws the order of all training rows for `epoch` and gathers this rank's rows in it.
    func shuffle(epoch: Int) {
        order.shuffle(epoch: epoch)
        let width = shard.inputWidth
        let first = shard.rows.lowerBound
        let columnStride = model.gatherLayout == .columns ? shard.rows.count : 0
        let targetInputs = epochInputs.baseAddress!
        var count = 0
        shard.inputs.withUnsafeBufferPointer { inputs in
            shard.targets.withUnsafeBufferPointer { targets in
                order.positions.withUnsafeBufferPointer { positions in
                    for slot in 0..<layout.rows {
                        let row = positions[slot]
                        guard shard.rows.contains(row) else { continue }
                        let local = row &- first
                        let source = inputs.baseAddress! + local &* width
                        if columnStride > 0 {
                            for feature in 0..<width { targetInputs[feature &* columnStride &+ count] = source[feature] }
                        } else {
                            (targetInputs + count &* width).update(from: source, count: width)
                        }
                        epochTargets[count] = targets[local]
                        ownSlots[count] = slot
                        count &+= 1
                    }
                }
            }
        }
    }

    /// How many of the gathered rows have slots before `slot` (a binary search of the increasing slots).
    private func gatheredRows(before slot: Int) -> Int {
        var low = 0
        var high = shard.rows.count
        while low < high {
            let middle = (low + high) / 2
            if ownSlots[middle] < slot { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Writes the allreduced gradient of the step over the epoch's `slots` into `reduced` in the trainer's layout (the gradient sums, the noise
    /// scale's `n t` and `n` when it is on, the rows), the same bits on every rank at any rank count. When the
    /// parameters have diverged so far that no scale bounds their terms, the gradient is NaN, so the trainer ends
    /// the run as diverged on every rank (each takes that decision from the same parameters).
    ///
    /// - Returns: nanoseconds spent in the allreduce when `timed`.
    func gradient(
        ofSlots slots: Range<Int>, into reduced: UnsafeMutableBufferPointer<Float>, timed: Bool, stop: Bool
    ) throws -> UInt64 {
        if inputBounds.isEmpty { try agreeOnDataBounds() }
        buffer.update(repeating: 0)
        let bounded = inputBounds.withUnsafeBufferPointer {
            model.fixedPointScales(inputBounds: $0.baseAddress!, targetBound: targetBound, rows: slots.count,
                                   into: scales.baseAddress!)
        }
        var rows = 0
        if bounded {
            let split = estimatesNoise ? slots.lowerBound + slots.count / 2 : slots.upperBound
            rows = accumulate(rows: gatheredRows(before: slots.lowerBound)..<gatheredRows(before: slots.upperBound),
                              split: gatheredRows(before: split))
        }
        let tail = buffer.count - 2
        buffer[tail] = Int64(rows)
        buffer[tail + 1] = stop ? 1 : 0
        let before = timed ? MonotonicClock.now() : 0
        try collective.allreduce(buffer, .sum)
        let allreduceNanoseconds = timed ? MonotonicClock.now() - before : 0

        var squaredDifference = 0.0
        let firstHalf = buffer.baseAddress!
        // Without the noise scale there is no second half: its sums are zeros.
        let secondHalf = estimatesNoise ? firstHalf + parameterCount : UnsafeMutablePointer(zeros.baseAddress!)
        let firstRows = estimatesNoise ? slots.count / 2 : slots.count
        let secondRows = slots.count - firstRows
        for (block, range) in blocks.enumerated() where bounded {
            let unit = scales[block].unit
            squaredDifference += kernels.fixedPointGradient(
                firstHalf + range.lowerBound, secondHalf + range.lowerBound, range.count, unit,
                unit / Double(max(firstRows, 1)), unit / Double(max(secondRows, 1)),
                reduced.baseAddress! + range.lowerBound)
        }
        if !bounded { reduced.baseAddress!.update(repeating: .nan, count: parameterCount) }
        if estimatesNoise {
            // The halves of the global batch are disjoint draws from all rows: n t = |g1 - g2|^2 h1 h2.
            let estimate = Float(squaredDifference * Double(firstRows) * Double(secondRows))
            let counts = firstRows > 0 && estimate.isFinite
            reduced[parameterCount] = counts ? estimate : 0
            reduced[parameterCount + 1] = counts ? Float(slots.count) : 0
        }
        reduced[reduced.count - 1] = Float(buffer[tail + 1])
        RowCountDigits.store(Int(buffer[tail]), into: reduced.baseAddress! + reduced.count - 1 - RowCountDigits.slots)
        return allreduceNanoseconds
    }

    /// Adds the integer gradient of the gathered rows `rows` to the buffer's sums, those before `split` to the first
    /// half's, in one batch. Returns how many there were.
    private func accumulate(rows: Range<Int>, split: Int) -> Int {
        guard !rows.isEmpty else { return 0 }
        let targets = epochTargets.baseAddress! + rows.lowerBound
        let batch: Batch = model.gatherLayout == .columns
            ? .columns(epochInputs.baseAddress! + rows.lowerBound, columnStride: shard.rows.count, targets: targets,
                       count: rows.count)
            : .rows(epochInputs.baseAddress! + rows.lowerBound * shard.inputWidth, width: shard.inputWidth,
                    targets: targets, count: rows.count)
        model.accumulateFixedPointGradient(
            batch, split: split - rows.lowerBound, scales: scales.baseAddress!, into: buffer.baseAddress!,
            buffer.baseAddress! + (estimatesNoise ? parameterCount : 0))
        return rows.count
    }

    /// Agrees on the largest magnitude of each input column and of any target over all training rows: one
    /// allreduce of maxima (exact, so in any order).
    private func agreeOnDataBounds() throws {
        let width = shard.inputWidth
        var bounds = [Double](repeating: 0, count: width + 1)
        bounds.withUnsafeMutableBufferPointer { bounds in
            shard.inputs.withUnsafeBufferPointer { inputs in
                for row in 0..<shard.rows.count {
                    for column in 0..<width {
                        bounds[column] = max(bounds[column], Double(inputs[row * width + column].magnitude))
                    }
                }
            }
            bounds[width] = shard.targets.reduce(0) { max($0, Double($1.magnitude)) }
        }
        try collective.allreduce(&bounds, .max)
        // The bias input is 1 in every row, also on a rank without rows.
        bounds[width - 1] = 1
        targetBound = bounds[width]
        inputBounds = Array(bounds.prefix(width))
    }

    /// The mean loss over the training rows (the evaluation `sample`'s, when there is one) and, when there are any,
    /// the held-out rows: each row's loss from the row-invariant model (``Model/maxRows`` rows a call), summed
    /// exactly; NaN when a loss is too large for the sums.
    func evaluate(sample: EvaluationSample?) throws -> (loss: Double, validation: Double?) {
        var totals = [Int64](repeating: 0, count: 2 * limbs + 1)
        func add(_ inputs: [Float], _ targets: [Float], rows: Int, at offset: Int) {
            let width = shard.inputWidth
            inputs.withUnsafeBufferPointer { inputs in
                targets.withUnsafeBufferPointer { targets in
                    totals.withUnsafeMutableBufferPointer { totals in
                        let sum = totals.baseAddress! + offset
                        var start = 0
                        while start < rows {
                            let count = min(model.maxRows, rows - start)
                            model.squaredErrors(inputs: inputs.baseAddress! + start * width,
                                                targets: targets.baseAddress! + start, count: count,
                                                into: losses.baseAddress!)
                            for row in 0..<count where !ExactSum.add(losses[row], to: sum, limbs: limbs) {
                                totals[2 * limbs] += 1
                            }
                            start += count
                            // Carried after each call (far fewer than ExactSum.safeAdditions additions) and before
                            // the allreduce: a sum over all rows of all ranks may take more than that.
                            if !ExactSum.carry(sum, limbs: limbs) { totals[2 * limbs] += 1 }
                        }
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

/// The Int64 values of each step's allreduce in the reproducible mode: one integer sum per parameter (two, the
/// batch's halves, with the noise scale), then the rows and the stop flag.
func reproducibleAllreducedValues(parameterCount: Int, estimatesNoise: Bool) -> Int {
    (estimatesNoise ? 2 : 1) * parameterCount + 2
}
