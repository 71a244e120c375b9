import Optimization
import Models
import Kernels
import Data
import Common
import MPI

/// The outcome of a complete training run, as rank 0 measured it.
public struct TrainingSummary: Sendable {
    /// The last evaluated training loss.
    public var finalLoss: Double
    /// Training seconds per epoch (evaluation excluded), d2l's `timer.sum() / num_epochs`.
    public var secondsPerEpoch: Double
    /// Examples trained per training second, across all ranks.
    public var examplesPerSecond: Double
    /// SGD steps taken.
    public var steps: Int
    /// Examples seen across all ranks.
    public var examples: Int
    /// Where the time went.
    public var seconds: TimeSplit
    /// Every parameter of the final model, in the model's order (for the linear model: the weights, then the bias).
    public var parameters: [Float]
    /// The loss over the held-out rows at the end (nil without `--val-rows`).
    public var validationLoss: Double?
    /// The outcome of the final comparison of every rank's parameters and optimizer state.
    public var replicasIdentical: Bool
}

extension TrainingSummary {
    /// SHA-1 of the final parameters' bits, the summary's `params_digest`.
    public var parametersDigest: String { parameters.withUnsafeBufferPointer { Digest.sha1(bitsOf: $0) } }
}

/// What a run reports to and where it may start, beside the training itself; every part is optional.
public struct TrainerHooks {
    /// Rank 0's run log.
    public var log: RunLog?
    /// Rank 0's progress line.
    public var progress: ProgressReporter?
    /// Told of the step, for the messages of signals and the stall watchdog (which watches the collective itself).
    public var monitor: JobMonitor?
    /// When the job started (monotonic nanoseconds), for `wall_seconds`.
    public var jobStart = MonotonicClock.now()
    /// Seconds spent loading, for the summary.
    public var loadSeconds = 0.0
    /// A checkpoint's state to continue from (the same on every rank).
    public var resume: TrainingState?
    /// Steps between calls of `saveCheckpoint` (rank 0 passes one; others pass nil).
    public var checkpointEvery = 0
    public var saveCheckpoint: ((TrainingState) throws -> Void)?
    /// For `bench step`: each step's duration in nanoseconds, the time from one step's allreduce call to the
    /// next one's, a whole cycle of update, gradient and allreduce (on one rank, from one step's end to the
    /// next's).
    public var stepDurations: UnsafeMutableBufferPointer<UInt64>?
    /// Spans of the first steps for `--timeline` (load is recorded by the caller).
    public var timeline: Timeline?
    /// A fault to inject (``FaultInjection``), for tests of the failure paths.
    public var fault: FaultInjection?

    /// No log, progress, monitor, checkpoint or timing.
    public init() {}
}

/// Data-parallel minibatch SGD: each rank's local gradient sum, one allreduce, the same step on every rank.
///
/// Every decision that could differ between ranks is made from values all ranks share (the step plan from
/// ``ShardLayout``, the allreduced gradient, the allreduced loss), so all ranks stop at the same step.
public final class Trainer<Group: Collective> {
    private let configuration: TrainingConfiguration
    private let shard: TrainingShard
    private let layout: ShardLayout
    private let collective: Group
    private let model: any Model
    private let optimizer: Optimizer
    private let log: RunLog?
    private var progress: ProgressReporter?
    private let jobStart: UInt64
    private let loadSeconds: Double
    private let stepDurations: UnsafeMutableBufferPointer<UInt64>?
    private let resume: TrainingState?
    private let checkpointEvery: Int
    private let saveCheckpoint: ((TrainingState) throws -> Void)?
    private let monitor: JobMonitor?
    private let timeline: Timeline?
    private let fault: FaultInjection?
    /// The steps and evaluations of `--reproducible`; nil in the default mode.
    private let reproducible: ReproducibleSteps<Group>?

    /// Prepares a run. `configuration.globalBatch` must be resolved; the layout must match the shard. `kernels` is
    /// the set the model computes with (for `--reproducible`, the one every rank agreed on).
    public init(
        configuration: TrainingConfiguration, shard: TrainingShard, layout: ShardLayout, collective: Group,
        kernels: KernelSet = .active, hooks: TrainerHooks = TrainerHooks()
    ) {
        stepDurations = hooks.stepDurations
        resume = hooks.resume
        checkpointEvery = hooks.checkpointEvery
        saveCheckpoint = hooks.saveCheckpoint
        monitor = hooks.monitor
        timeline = hooks.timeline
        fault = hooks.fault
        log = hooks.log
        progress = hooks.progress
        jobStart = hooks.jobStart
        loadSeconds = hooks.loadSeconds
        self.configuration = configuration
        self.shard = shard
        self.layout = layout
        self.collective = collective
        model = configuration.model.make(
            features: shard.features, maxRows: Self.scratchRows(layout: layout, shardRows: shard.rows.count),
            seed: configuration.seed, kernels: kernels)
        optimizer = Optimizer(settings: configuration.optimizer, count: model.parameters.count, kernels: kernels)
        reproducible = configuration.isReproducible
            ? ReproducibleSteps(model: model, shard: shard, layout: layout, collective: collective,
                                seed: configuration.seed, estimatesNoise: configuration.noiseScaleDecay != nil)
            : nil
        if let resume {
            for index in model.parameters.indices {
                model.parameters[index] = resume.parameters[index]
                optimizer.first[index] = resume.optimizerFirst[index]
                optimizer.second[index] = resume.optimizerSecond[index]
            }
            optimizer.restore(updates: resume.optimizerUpdates)
        }
    }

    /// Trains for the configured epochs.
    ///
    /// - Throws: ``JobFailure`` of kind `.diverged` (reported by rank 0, thrown on every rank at the same
    ///   step) when the gradient or loss stops being finite or the loss grows past its value before training;
    ///   an `MPIError` or a log `JobFailure` for failures that only some ranks may see.
    public func run() throws -> TrainingSummary {
        let width = shard.inputWidth
        let shardRows = shard.rows.count
        let rows = layout.rows
        let stepsPerEpoch = layout.stepsPerEpoch
        let totalSteps = configuration.epochs * stepsPerEpoch
        let evalEvery = configuration.evalEvery
        let baseRate = configuration.effectiveLearningRate ?? configuration.learningRate
        let schedule = configuration.schedule
        let constantRate = schedule.isConstant
        var rate = constantRate
            ? baseRate : schedule.rate(base: baseRate, step: 0, epoch: 0, totalSteps: totalSteps)
        let rank = collective.rank

        var order = EpochOrder(seed: configuration.seed, rank: rank, shardRows: shardRows)
        let epochInputs = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(shardRows * width, 1))
        let epochTargets = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(shardRows, 1))
        let parameterCount = model.parameters.count
        // The allreduced buffer: the gradient sum, the noise-scale estimate's two sums when it is on, and the row
        // count's digits last.
        let noiseDecay = configuration.noiseScaleDecay
        let reduced = UnsafeMutableBufferPointer<Float>.allocateLineAligned(
            count: configuration.allreducedFloats(parameterCount: parameterCount))
        let countDigits = reduced.baseAddress! + reduced.count - RowCountDigits.slots
        let secondHalf = noiseDecay.map { _ in
            UnsafeMutableBufferPointer<Float>.allocateLineAligned(count: parameterCount)
        }
        var noise = noiseDecay == nil ? nil : resume?.noiseScale ?? GradientNoiseScale()
        defer {
            epochInputs.deallocate()
            epochTargets.deallocate()
            reduced.deallocateLineAligned()
            secondHalf?.deallocateLineAligned()
        }
        let parameters = model.parameters
        let byColumns = model.gatherLayout == .columns
        // By columns, the shard's inputs are transposed once, so that each epoch's gather reads one column at a time
        // (read row by row, the gather cost more than the linear model's whole gradient).
        let shardColumns = byColumns ? transposedInputs() : nil
        defer { shardColumns?.deallocate() }

        // Training time is read at the edges of stretches between evaluations; inside a step the clock is read
        // only around the allreduce (two reads, about 27 ns each here) and not at all on one rank, where the
        // whole sgd step costs a few tens of nanoseconds.
        var trainNanoseconds: UInt64 = 0
        var allreduceNanoseconds: UInt64 = 0
        var evalNanoseconds: UInt64 = 0
        let timesAllreduce = collective.size > 1
        let extraRows = fault?.isDue(.miscountBatch, rank: rank) == true ? 1 : 0
        let progressInterval = 1024

        let start = try resume == nil ? evaluate() : nil
        let initialLoss = resume?.initialLoss ?? start!.loss
        var lastLoss = resume?.lastLoss ?? initialLoss
        var lastValidationLoss = start?.validation
        if let start {
            try record(step: 0, examples: 0, trainNanoseconds: 0, loss: start.loss, validationLoss: start.validation,
                       rate: rate, noise: noise)
        } else {
            trainNanoseconds = UInt64((resume!.trainSeconds * 1e9).rounded())
        }
        var nextEval = resume?.nextEval ?? evalEvery
        var step = resume?.step ?? 0
        var examples = resume?.examples ?? 0
        let firstEpoch = resume?.epoch ?? 0
        let firstStepInEpoch = resume?.stepInEpoch ?? 0
        monitor?.publish(step: step)
        if let timeline {
            try collective.barrier()
            timeline.start(at: MonotonicClock.now())
        }
        var stretchStart = MonotonicClock.now()
        var previousStepMark = stretchStart

        for epoch in firstEpoch..<configuration.epochs {
            let gatherStart = timeline == nil ? 0 : MonotonicClock.now()
            if let reproducible {
                reproducible.shuffle(epoch: epoch)
            } else {
                order.shuffle(epoch: epoch)
                gather(order, inputs: epochInputs, targets: epochTargets, shardColumns: shardColumns)
            }
            if let timeline, step < timeline.stepLimit {
                timeline.add(.gather, from: gatherStart, to: MonotonicClock.now(), step: step)
            }

            for stepInEpoch in (epoch == firstEpoch ? firstStepInEpoch : 0)..<stepsPerEpoch {
                let slots = layout.slots(ofStep: stepInEpoch)
                let globalCount = slots.count
                let traced = timeline != nil && step < timeline!.stepLimit
                var traceMark = traced ? MonotonicClock.now() : 0
                if let reproducible {
                    // Its gradient span includes the integer allreduce.
                    allreduceNanoseconds += try reproducible.gradient(
                        ofStep: stepInEpoch, into: reduced, timed: timesAllreduce)
                    if stepDurations != nil { recordStep(step, since: &previousStepMark, now: MonotonicClock.now()) }
                    if traced { traceMark = trace(.gradient, since: traceMark, step: step) }
                } else {
                    let local = layout.localPositions(ofStep: stepInEpoch, rank: rank)
                    let targets = epochTargets.baseAddress! + local.lowerBound
                    let batch: Batch = byColumns
                        ? .columns(epochInputs.baseAddress! + local.lowerBound, columnStride: shardRows,
                                   targets: targets, count: local.count)
                        : .rows(epochInputs.baseAddress! + local.lowerBound * width, width: width,
                                targets: targets, count: local.count)
                    if let secondHalf {
                        accumulateGradientByHalves(batch, secondHalf: secondHalf, into: reduced)
                    } else {
                        model.accumulateGradient(batch, into: reduced.baseAddress!)
                    }
                    RowCountDigits.store(local.count + extraRows, into: countDigits)
                    if traced { traceMark = trace(.gradient, since: traceMark, step: step) }
                    if timesAllreduce {
                        let before = MonotonicClock.now()
                        try collective.allreduce(reduced, .sum)
                        allreduceNanoseconds += MonotonicClock.now() - before
                        recordStep(step, since: &previousStepMark, now: before)
                    } else {
                        // One rank: the sum over ranks is the buffer itself (the call through the watchdog and
                        // the collective's protocol cost about a tenth of an sgd step).
                        if stepDurations != nil {
                            recordStep(step, since: &previousStepMark, now: MonotonicClock.now())
                        }
                    }
                    if traced { traceMark = trace(.allreduce, since: traceMark, step: step) }
                }

                if !allFinite(UnsafeBufferPointer(rebasing: reduced[..<parameterCount])) {
                    throw try diverge(step: step, loss: lastLoss, reason: "the gradient is no longer finite")
                }
                let countedRows = RowCountDigits.load(countDigits)
                if countedRows != globalCount {
                    // The allreduced count is the same on every rank, so every rank fails here at the same step.
                    throw try inconsistent(step: step, reason: "batch_mismatch", message: "ranks disagree on step "
                        + "\(step)'s batch: their shares add up to \(countedRows) rows, the plan says "
                        + "\(globalCount)")
                }
                if let noiseDecay, reduced[parameterCount + 1] > 0 {
                    addNoiseEstimate(to: &noise!, reduced: reduced, batch: globalCount, decay: noiseDecay)
                }
                if !constantRate {
                    rate = schedule.rate(base: baseRate, step: step, epoch: epoch, totalSteps: totalSteps)
                }
                optimizer.update(parameters, gradientSum: reduced.baseAddress!,
                                 gradientScale: 1 / Float(globalCount), learningRate: Float(rate))
                if traced { _ = trace(.update, since: traceMark, step: step) }
                step += 1
                examples = epoch * rows + slots.upperBound
                monitor?.publish(step: step)

                if examples >= nextEval || step == totalSteps {
                    let evalStart = MonotonicClock.now()
                    trainNanoseconds += evalStart - stretchStart
                    let (loss, validationLoss) = try evaluate()
                    lastValidationLoss = validationLoss
                    nextEval = (examples / evalEvery + 1) * evalEvery
                    try record(step: step, examples: examples, trainNanoseconds: trainNanoseconds, loss: loss,
                               validationLoss: validationLoss, rate: rate, noise: noise)
                    if !loss.isFinite {
                        throw try diverge(step: step, loss: lastLoss, reason: "the loss is no longer finite")
                    }
                    if loss > initialLoss {
                        throw try diverge(step: step, loss: loss, reason: String(
                            format: "the loss %.4g exceeds its value before training, %.4g", loss, initialLoss))
                    }
                    lastLoss = loss
                    stretchStart = MonotonicClock.now()
                    evalNanoseconds += stretchStart - evalStart
                    if traced { timeline!.add(.evaluation, from: evalStart, to: stretchStart, step: step) }
                }
                if let saveCheckpoint, checkpointEvery > 0, step % checkpointEvery == 0 {
                    let saveStart = MonotonicClock.now()
                    let lastOfEpoch = stepInEpoch == stepsPerEpoch - 1
                    try saveCheckpoint(state(
                        epoch: lastOfEpoch ? epoch + 1 : epoch, stepInEpoch: lastOfEpoch ? 0 : stepInEpoch + 1,
                        step: step, examples: examples, nextEval: nextEval,
                        trainSeconds: Double(trainNanoseconds + (saveStart - stretchStart)) * 1e-9,
                        initialLoss: initialLoss, lastLoss: lastLoss, noise: noise))
                    // Saving is not training: restart the stretch after it.
                    trainNanoseconds += saveStart - stretchStart
                    stretchStart = MonotonicClock.now()
                    if traced { timeline!.add(.checkpoint, from: saveStart, to: stretchStart, step: step) }
                }
                if progress != nil && step % progressInterval == 0 {
                    let now = MonotonicClock.now()
                    if let due = progress?.isDue(now), due {
                        reportProgress(now: now, trainSeconds: Double(trainNanoseconds + (now - stretchStart)) * 1e-9,
                                       step: step, examples: examples, loss: lastLoss)
                    }
                }
            }
        }
        let computeNanoseconds = trainNanoseconds - min(allreduceNanoseconds, trainNanoseconds)
        if let fault {
            if fault.isDue(.perturbReplica, rank: rank) { model.parameters[0] = model.parameters[0].nextUp }
            fault.stopIfDue(.stopFinalCheck, rank: rank)
        }
        let replicasIdentical = try replicasAreIdentical()
        if !replicasIdentical {
            throw try inconsistent(step: step, reason: "replicas_differ", message: "parameters or optimizer state "
                + "differ between ranks after step \(step): the ranks no longer hold one model", replicasIdentical: false)
        }
        progress?.finish()

        let trainSeconds = Double(trainNanoseconds) * 1e-9
        return TrainingSummary(
            finalLoss: lastLoss,
            secondsPerEpoch: trainSeconds / Double(configuration.epochs),
            examplesPerSecond: trainSeconds > 0 ? Double(examples) / trainSeconds : 0,
            steps: step, examples: examples,
            seconds: TimeSplit(
                compute: Double(computeNanoseconds) * 1e-9, allreduce: Double(allreduceNanoseconds) * 1e-9,
                eval: Double(evalNanoseconds) * 1e-9, load: loadSeconds),
            parameters: model.parameterValues, validationLoss: lastValidationLoss,
            replicasIdentical: replicasIdentical)
    }

    /// Writes the batch's gradient sum into `reduced` as the sum of its two halves' (a pass over each half costs
    /// about what one pass over the batch does), followed by this rank's part of the noise-scale estimate: its
    /// share's `n t` and `n` (``GradientNoiseScale``), or zeros when the share has fewer than 2 rows or `t` is not
    /// finite.
    @inline(__always)
    private func accumulateGradientByHalves(
        _ batch: Batch, secondHalf: UnsafeMutableBufferPointer<Float>, into reduced: UnsafeMutableBufferPointer<Float>
    ) {
        let parameterCount = secondHalf.count
        var weightedTrace: Float = 0
        var rows: Float = 0
        if batch.count >= 2 {
            let firstRows = batch.count / 2
            model.accumulateGradient(batch.prefix(firstRows), into: reduced.baseAddress!)
            model.accumulateGradient(batch.dropFirst(firstRows), into: secondHalf.baseAddress!)
            let estimate = Float(GradientNoiseScale.mergeHalves(
                reduced.baseAddress!, secondHalf.baseAddress!, count: parameterCount, firstRows: firstRows,
                secondRows: batch.count - firstRows))
            if estimate.isFinite {
                weightedTrace = estimate
                rows = Float(batch.count)
            }
        } else {
            model.accumulateGradient(batch, into: reduced.baseAddress!)
        }
        reduced[parameterCount] = weightedTrace
        reduced[parameterCount + 1] = rows
    }

    /// Adds the step's estimates of `tr(Sigma)` and `|G|^2` from the allreduced buffer (the global batch's gradient
    /// sum, then the shares' summed `n t` and `n`) to the moving averages; the same on every rank.
    private func addNoiseEstimate(
        to noise: inout GradientNoiseScale, reduced: UnsafeMutableBufferPointer<Float>, batch: Int, decay: Double
    ) {
        let parameterCount = model.parameters.count
        let traceSigma = Double(reduced[parameterCount]) / Double(reduced[parameterCount + 1])
        let rows = Double(batch)
        let batchSquaredNorm = GradientNoiseScale.squaredNorm(reduced.baseAddress!, count: parameterCount)
            / (rows * rows)
        let sampling = traceSigma * (1 - rows / Double(layout.rows)) / rows
        noise.add(traceSigma: traceSigma, squaredNorm: batchSquaredNorm - sampling, decay: decay)
    }

    /// Copies the shard's rows into `inputs` and `targets` in the epoch's order, so each step's rows are contiguous:
    /// row after row, or, given the shard's inputs column by column, column after column (a column per input,
    /// `shardRows` floats apart) for a model that gathers by columns.
    private func gather(
        _ order: EpochOrder, inputs epochInputs: UnsafeMutableBufferPointer<Float>,
        targets epochTargets: UnsafeMutableBufferPointer<Float>, shardColumns: UnsafeMutableBufferPointer<Float>?
    ) {
        let width = shard.inputWidth
        let shardRows = shard.rows.count
        shard.inputs.withUnsafeBufferPointer { inputs in
            shard.targets.withUnsafeBufferPointer { targets in
                order.positions.withUnsafeBufferPointer { positions in
                    if let shardColumns {
                        // A column at a time from the shard's columns: loads from one column, stores in order.
                        for feature in 0..<width {
                            let column = epochInputs.baseAddress! + feature * shardRows
                            let source = shardColumns.baseAddress! + feature * shardRows
                            for (slot, row) in positions.enumerated() { column[slot] = source[row] }
                        }
                    } else {
                        for (slot, row) in positions.enumerated() {
                            (epochInputs.baseAddress! + slot * width)
                                .update(from: inputs.baseAddress! + row * width, count: width)
                        }
                    }
                    for (slot, row) in positions.enumerated() { epochTargets[slot] = targets[row] }
                }
            }
        }
    }

    /// The shard's inputs column by column: a column per input, `shardRows` floats each.
    private func transposedInputs() -> UnsafeMutableBufferPointer<Float> {
        let width = shard.inputWidth
        let shardRows = shard.rows.count
        let columns = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(shardRows * width, 1))
        for row in 0..<shardRows {
            for feature in 0..<width { columns[feature * shardRows + row] = shard.inputs[row * width + feature] }
        }
        return columns
    }

    /// The state a checkpoint records: the model, the optimizer and where the run stands.
    private func state(
        epoch: Int, stepInEpoch: Int, step: Int, examples: Int, nextEval: Int, trainSeconds: Double,
        initialLoss: Double, lastLoss: Double, noise: GradientNoiseScale?
    ) -> TrainingState {
        TrainingState(
            parameters: Array(model.parameters), optimizerFirst: Array(optimizer.first),
            optimizerSecond: Array(optimizer.second), optimizerUpdates: optimizer.updates, epoch: epoch,
            stepInEpoch: stepInEpoch, step: step, examples: examples, nextEval: nextEval, trainSeconds: trainSeconds,
            initialLoss: initialLoss, lastLoss: lastLoss, noiseScale: noise)
    }

    /// Prints one progress line: where the run stands, its speed and the time left.
    private func reportProgress(now: UInt64, trainSeconds: Double, step: Int, examples: Int, loss: Double) {
        let rows = layout.rows
        let rate = trainSeconds > 0 ? Double(examples) / trainSeconds : 0
        let left = rate > 0 ? Double(configuration.epochs * rows - examples) / rate : 0
        progress?.report(
            now: now, epoch: Double(examples) / Double(rows), epochs: configuration.epochs, step: step,
            totalSteps: configuration.epochs * layout.stepsPerEpoch, loss: loss, examplesPerSecond: rate,
            secondsLeft: left)
    }

    /// Compares parameters and optimizer state across ranks, bit for bit: a 64-bit fingerprint (``Digest/fingerprint(_:)``)
    /// of every parameter, both optimizer buffers and the update count, allreduced as integers with min and max, so
    /// every rank gets the same answer. They are equal by construction (the same update of the same allreduced
    /// gradient); a difference means a bug, and the job fails on every rank rather than report a model that is not
    /// one model.
    private func replicasAreIdentical() throws -> Bool {
        var updates = Int64(optimizer.updates)
        let fingerprint = withUnsafeBytes(of: &updates) { updateBytes in
            Digest.fingerprint([
                UnsafeRawBufferPointer(model.parameters), UnsafeRawBufferPointer(optimizer.first),
                UnsafeRawBufferPointer(optimizer.second), updateBytes,
            ])
        }
        // The minimum of the fingerprints and the minimum of their complements (the maximum, complemented).
        var range = [fingerprint, ~fingerprint]
        try collective.allreduce(&range, .min)
        return range[0] == ~range[1]
    }

    /// Records a timeline span from `start` to now; returns now.
    @inline(__always)
    private func trace(_ kind: Timeline.Kind, since start: UInt64, step: Int) -> UInt64 {
        let now = MonotonicClock.now()
        timeline?.add(kind, from: start, to: now, step: step)
        return now
    }

    /// Writes the time since the previous step's mark as this step's duration, for `bench step`.
    @inline(__always)
    private func recordStep(_ step: Int, since mark: inout UInt64, now: UInt64) {
        if let stepDurations, step < stepDurations.count { stepDurations[step] = now - mark }
        mark = now
    }

    /// The mean loss over the whole training set, and over the held-out rows when there are any: each rank's
    /// shards, then one allreduce of the sums and counts.
    private func evaluate() throws -> (loss: Double, validation: Double?) {
        if let reproducible { return try reproducible.evaluate() }
        func lossSum(_ inputs: [Float], _ targets: [Float], _ count: Int) -> Double {
            inputs.withUnsafeBufferPointer { inputs in
                targets.withUnsafeBufferPointer { targets in
                    count == 0 ? 0 : model.squaredErrorSum(
                        inputs: inputs.baseAddress!, targets: targets.baseAddress!, count: count)
                }
            }
        }
        var totals = [lossSum(shard.inputs, shard.targets, shard.rows.count), Double(shard.rows.count)]
        let validates = shard.validationRowsTotal > 0
        if validates {
            totals += [lossSum(shard.validationInputs, shard.validationTargets, shard.validationRows.count),
                       Double(shard.validationRows.count)]
        }
        try collective.allreduce(&totals, .sum)
        return (totals[0] / totals[1], validates ? totals[2] / totals[3] : nil)
    }

    /// Rows of scratch space the model needs: the largest local share of a step, and evaluation chunks of up to
    /// 4096 rows (evaluation walks a shard of any size through the same space).
    static func scratchRows(layout: ShardLayout, shardRows: Int) -> Int {
        let largestShare = (layout.globalBatch + layout.ranks - 1) / layout.ranks
        return max(largestShare, min(shardRows, 4096), 1)
    }

    private func record(
        step: Int, examples: Int, trainNanoseconds: UInt64, loss: Double, validationLoss: Double?, rate: Double,
        noise: GradientNoiseScale?
    ) throws {
        guard let log else { return }
        try log.append(EvalRecord(
            step: step, epoch: Double(examples) / Double(layout.rows), examples: examples,
            trainSeconds: Double(trainNanoseconds) * 1e-9,
            wallSeconds: MonotonicClock.seconds(from: jobStart, to: MonotonicClock.now()), loss: loss, lr: rate,
            valLoss: validationLoss, traceSigma: noise?.traceSigma, gradSq: noise?.squaredNorm,
            noiseScale: noise?.noiseScale))
    }

    /// Ends the run on every rank when a value all ranks share shows that they no longer compute the same thing:
    /// rank 0 logs an `end` record with `reason` and prints `message`; all throw the same failure (exit code 70).
    private func inconsistent(
        step: Int, reason: String, message: String, replicasIdentical: Bool? = nil
    ) throws -> JobFailure {
        progress?.finish()
        try log?.append(EndRecord(
            reason: reason, step: step, message: message, replicasIdentical: replicasIdentical))
        if collective.rank == 0 { Console.error(message, rank: 0, size: 1) }
        return JobFailure(kind: .runtime, message: message, reported: true)
    }

    /// Ends the run on every rank at the same step: rank 0 logs and prints why; all throw the same failure.
    private func diverge(step: Int, loss: Double, reason: String) throws -> JobFailure {
        progress?.finish()
        let rate = configuration.effectiveLearningRate ?? configuration.learningRate
        let message = "training diverged at step \(step): \(reason) (last finite loss "
            + String(format: "%.4g", loss) + "); try a learning rate smaller than this run's \(rate) (--lr)"
        try log?.append(EndRecord(reason: "diverged", step: step, lastFiniteLoss: loss, message: message))
        if collective.rank == 0 { Console.error(message, rank: 0, size: 1) }
        return JobFailure(kind: .diverged, message: message, reported: true)
    }
}

import Foundation
