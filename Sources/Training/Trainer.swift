import Checksums
import Common
import Data
import Formats
import Foundation
import Kernels
import MPI
import Models
import Optimization
import Runtime

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
    /// Rank 0's mean seconds per step outside and inside the allreduce, over the steps this process took (a
    /// resumed run's earlier segments ran elsewhere, perhaps at another rank count).
    public var stepSeconds: StepSeconds
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
    /// The training rows the periodic evaluations walk, when they are a sample (`--eval-rows`).
    private let sample: EvaluationSample?
    /// The steps and evaluations of `--reproducible`; nil in the default mode.
    private let reproducible: ReproducibleSteps<Group>?
    /// Rows this rank adds to its count of every step's share (1 under the `miscount-batch` fault, else 0).
    private let extraRows: Int
    /// The collective's rank, and whether the allreduce is called and timed (not on one rank): read once, since
    /// each read goes through the collective's protocol.
    private let rank: Int
    private let timesAllreduce: Bool

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
            features: shard.features, maxRows: Self.scratchRows(
                largestBatch: configuration.largestBatch(ranks: layout.ranks, rows: layout.rows), ranks: layout.ranks,
                shardRows: shard.rows.count),
            seed: configuration.seed, kernels: kernels, rowInvariant: configuration.isReproducible)
        optimizer = Optimizer(settings: configuration.optimizer, count: model.parameters.count, kernels: kernels,
                              layers: model.parameterLayers.map { ($0.weights, $0.bias) })
        rank = collective.rank
        timesAllreduce = collective.size > 1
        extraRows = hooks.fault?.isDue(.miscountBatch, rank: collective.rank) == true ? 1 : 0
        sample = EvaluationSample.size(requested: configuration.evalRows, trainingRows: shard.trainingRows).map {
            EvaluationSample(shard: shard, total: $0, seed: configuration.seed)
        }
        reproducible = configuration.isReproducible
            ? ReproducibleSteps(model: model, kernels: kernels, shard: shard, layout: layout, collective: collective,
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

    /// Trains for the configured epochs: each epoch's order, then each step's gradient, reduction, checks, update,
    /// and the evaluation, checkpoint and progress that fall due.
    ///
    /// - Throws: ``JobFailure`` of kind `.diverged` (reported by rank 0, thrown on every rank at the same
    ///   step) when the gradient or loss stops being finite or the loss grows past its value before training;
    ///   an `MPIError` or a log `JobFailure` for failures that only some ranks may see.
    public func run() throws -> TrainingSummary {
        let buffers = StepBuffers(
            shard: shard, floats: configuration.allreducedFloats(parameterCount: model.parameters.count),
            estimatesNoise: configuration.noiseScaleDecay != nil,
            shardColumns: model.gatherLayout == .columns ? transposedInputs() : nil)
        var order = EpochOrder(seed: configuration.seed, rank: collective.rank, shardRows: shard.rows.count)
        let constants = StepConstants(configuration, layout: layout, parameters: model.parameters)
        var position = try start(constants)
        let firstEpoch = resume?.epoch ?? 0
        let lastEpoch = configuration.epochs - 1
        // Read every step (the stop request, the step count): from a local, not through self.
        let monitor = self.monitor
        for epoch in firstEpoch..<configuration.epochs {
            prepare(epoch: epoch, order: &order, buffers: buffers, step: position.step)
            var stepInEpoch = epoch == firstEpoch ? resume?.stepInEpoch ?? 0 : 0
            // Each step takes the epoch's next `position.batch` slots (the last step of an epoch may be short).
            var slot = epoch == firstEpoch ? resumeSlot : 0
            while slot < layout.rows {
                if let batchSchedule = constants.batchSchedule, position.step > 0,
                   position.step % batchSchedule.every == 0
                {
                    try adjustBatch(&position, schedule: batchSchedule, constants: constants)
                }
                let slots = slot..<min(slot + position.batch, layout.rows)
                let isLastStep = epoch == lastEpoch && slots.upperBound == layout.rows
                let traced = timeline != nil && position.step < timeline!.stepLimit
                var traceMark = traced ? MonotonicClock.now() : 0
                buffers.stopFlag.pointee = monitor?.isStopRequested == true ? 1 : 0
                if let reproducible {
                    try reduceExactly(slots, with: reproducible, buffers: buffers, position: &position,
                                      traceMark: &traceMark)
                } else {
                    accumulateGradient(slots, buffers: buffers)
                    if traced { traceMark = trace(.gradient, since: traceMark, step: position.step) }
                    try allreduce(buffers, position: &position)
                    if traced { traceMark = trace(.allreduce, since: traceMark, step: position.step) }
                }
                try check(batch: slots.count, buffers: buffers, position: position, constants: constants)
                update(batch: slots.count, epoch: epoch, buffers: buffers, position: &position, constants: constants)
                if traced { _ = trace(.update, since: traceMark, step: position.step) }
                position.step += 1
                position.examples = epoch * layout.rows + slots.upperBound
                stepInEpoch += 1
                slot = slots.upperBound
                monitor?.publish(step: position.step)
                if constants.isEvaluationDue(position, isLastStep: isLastStep) {
                    try evaluate(&position, traced: traced)
                }
                let checkpointDue = checkpointEvery > 0 && position.step % checkpointEvery == 0
                if checkpointDue {
                    try saveCheckpoint(&position, epoch: epoch, stepsInEpoch: stepInEpoch, slot: slot, traced: traced)
                }
                if _slowPath(buffers.stopFlag.pointee > 0) && !isLastStep {
                    throw try preempt(&position, epoch: epoch, stepsInEpoch: stepInEpoch, slot: slot,
                                      saved: checkpointDue)
                }
                if progress != nil && position.step % 1024 == 0 { reportProgress(position) }
            }
        }
        return try finish(position)
    }

    /// The epoch's slots a resumed run has already used in its first epoch.
    private var resumeSlot: Int {
        guard let resume else { return 0 }
        return resume.batchSchedule?.slotInEpoch ?? resume.stepInEpoch * layout.globalBatch
    }

    /// The position the run starts from: a resumed state, or step 0 after the evaluation before training.
    private func start(_ constants: StepConstants) throws -> Position {
        let batch = resume?.batchSchedule?.globalBatch ?? layout.globalBatch
        let baseRate = configuration.effectiveLearningRate ?? configuration.learningRate
        let rate = constants.hasRateClock
            ? constants.clockedRate(clock: 0, batch: batch, epoch: 0, gain: 1)
            : configuration.schedule.isConstant ? baseRate : configuration.schedule.rate(
                base: baseRate, step: 0, epoch: 0, totalSteps: constants.totalSteps)
        let noise = configuration.noiseScaleDecay == nil ? nil : resume?.noiseScale ?? GradientNoiseScale()
        var position: Position
        if let resume {
            position = Position(
                step: resume.step, examples: resume.examples, nextEval: resume.nextEval, rate: rate,
                initialLoss: resume.initialLoss, lastLoss: resume.lastLoss, noise: noise, batch: batch,
                rateClock: resume.batchSchedule?.rateClock ?? 0)
            position.trainNanoseconds = UInt64((resume.trainSeconds * 1e9).rounded())
            position.segmentStartStep = resume.step
            position.segmentStartNanoseconds = position.trainNanoseconds
        } else {
            let (loss, validation) = try evaluate()
            position = Position(
                step: 0, examples: 0, nextEval: configuration.evalEvery, rate: rate, initialLoss: loss, lastLoss: loss,
                lastValidationLoss: validation, noise: noise, batch: batch, rateClock: 0)
            try record(position, loss: loss, validationLoss: validation)
        }
        monitor?.publish(step: position.step)
        if let timeline {
            try collective.barrier()
            timeline.start(at: MonotonicClock.now())
        }
        position.stretchStart = MonotonicClock.now()
        position.previousStepMark = position.stretchStart
        return position
    }

    /// Draws `epoch`'s sample order and, in the default mode, gathers the shard's rows in it.
    private func prepare(epoch: Int, order: inout EpochOrder, buffers: StepBuffers, step: Int) {
        let gatherStart = timeline == nil ? 0 : MonotonicClock.now()
        if let reproducible {
            reproducible.shuffle(epoch: epoch)
        } else {
            order.shuffle(epoch: epoch)
            gather(order, inputs: buffers.epochInputs, targets: buffers.epochTargets, shardColumns: buffers.shardColumns)
        }
        if let timeline, step < timeline.stepLimit {
            timeline.add(.gather, from: gatherStart, to: MonotonicClock.now(), step: step)
        }
    }

    /// This rank's gradient sum of the step's share, with the noise scale's two sums and the row count: the
    /// buffer the allreduce then makes the global batch's on every rank.
    @inline(__always)
    private func accumulateGradient(_ slots: Range<Int>, buffers: StepBuffers) {
        let local = layout.localPositions(ofSlots: slots, rank: rank)
        let width = shard.inputWidth
        let targets = buffers.epochTargets.baseAddress! + local.lowerBound
        let batch: Batch = buffers.shardColumns != nil
            ? .columns(buffers.epochInputs.baseAddress! + local.lowerBound, columnStride: shard.rows.count,
                       targets: targets, count: local.count)
            : .rows(buffers.epochInputs.baseAddress! + local.lowerBound * width, width: width, targets: targets,
                    count: local.count)
        if let secondHalf = buffers.secondHalf {
            accumulateGradientByHalves(batch, secondHalf: secondHalf, into: buffers.reduced)
        } else {
            model.accumulateGradient(batch, into: buffers.reduced.baseAddress!)
        }
        RowCountDigits.store(local.count + extraRows, into: buffers.countDigits)
    }

    /// The allreduce of the step's buffer, timed; one rank skips the call (the sum over one rank is the buffer).
    @inline(__always)
    private func allreduce(_ buffers: StepBuffers, position: inout Position) throws {
        if timesAllreduce {
            let before = MonotonicClock.now()
            try collective.allreduce(buffers.reduced, .sum)
            position.allreduceNanoseconds += MonotonicClock.now() - before
            recordStep(position.step, since: &position.previousStepMark, now: before)
        } else if stepDurations != nil {
            recordStep(position.step, since: &position.previousStepMark, now: MonotonicClock.now())
        }
    }

    /// `--reproducible`'s gradient of the step, reduced exactly (its gradient span includes the integer allreduce).
    private func reduceExactly(
        _ slots: Range<Int>, with reproducible: ReproducibleSteps<Group>, buffers: StepBuffers,
        position: inout Position, traceMark: inout UInt64
    ) throws {
        position.allreduceNanoseconds += try reproducible.gradient(
            ofSlots: slots, into: buffers.reduced, timed: timesAllreduce, stop: buffers.stopFlag.pointee > 0)
        if stepDurations != nil { recordStep(position.step, since: &position.previousStepMark, now: MonotonicClock.now()) }
        if traceMark != 0 { traceMark = trace(.gradient, since: traceMark, step: position.step) }
    }

    /// Ends the run on every rank when the reduced gradient is not finite or the ranks' shares do not add up to the
    /// step's `batch`: both are read from the allreduced buffer, the same on every rank.
    @inline(__always)
    private func check(batch: Int, buffers: StepBuffers, position: Position, constants: StepConstants) throws {
        if !allFinite(UnsafeBufferPointer(rebasing: buffers.reduced[..<constants.parameterCount])) {
            throw try diverge(step: position.step, loss: position.lastLoss, reason: "the gradient is no longer finite")
        }
        let countedRows = RowCountDigits.load(buffers.countDigits)
        if countedRows != batch {
            throw try inconsistent(step: position.step, reason: "batch_mismatch", message: "ranks disagree on step "
                + "\(position.step)'s batch: their shares add up to \(countedRows) rows, the plan says \(batch)")
        }
    }

    /// The step's update: the noise-scale estimate, the scheduled rate, the optimizer's rule.
    @inline(__always)
    private func update(
        batch: Int, epoch: Int, buffers: StepBuffers, position: inout Position, constants: StepConstants
    ) {
        let reduced = buffers.reduced
        if let decay = constants.noiseDecay, reduced[constants.parameterCount + 1] > 0 {
            addNoiseEstimate(to: &position.noise!, reduced: reduced, batch: batch, decay: decay)
        }
        if constants.hasRateClock {
            let gain = constants.followsGain
                ? position.noise?.gain(batch: batch, baseBatch: constants.baseBatch) ?? 1 : 1
            position.rate = constants.clockedRate(clock: position.rateClock, batch: batch, epoch: epoch, gain: gain)
            position.rateClock += constants.followsGain ? gain : Double(batch) / Double(constants.baseBatch)
        } else if !constants.constantRate {
            position.rate = constants.schedule.rate(
                base: constants.baseRate, step: position.step, epoch: epoch, totalSteps: constants.totalSteps)
        }
        optimizer.update(constants.parameters, gradientSum: reduced.baseAddress!, gradientScale: 1 / Float(batch),
                         learningRate: Float(position.rate))
    }

    /// The batch schedule's adjustment before step `position.step`: every rank decides from the same allreduced
    /// estimates, then the ranks compare their decisions (the minimum of the batch and of its complement, one
    /// message every `every` steps) and end the run together if they differ.
    private func adjustBatch(_ position: inout Position, schedule: BatchSchedule, constants: StepConstants) throws {
        var batch = schedule.batch(after: position.step, current: position.batch, noise: position.noise,
                                   granularity: constants.batchGranularity, rows: layout.rows)
        if fault?.isDue(.perturbBatch, rank: rank) == true { batch = batch == layout.rows ? batch - 1 : batch + 1 }
        if timesAllreduce {
            // On the stack, not an array: the step loop allocates nothing.
            var range = (Int64(batch), ~Int64(batch))
            let before = MonotonicClock.now()
            try withUnsafeMutableBytes(of: &range) { try collective.allreduce($0.bindMemory(to: Int64.self), .min) }
            position.allreduceNanoseconds += MonotonicClock.now() - before
            if range.0 != ~range.1 {
                throw try inconsistent(step: position.step, reason: "batch_mismatch", message: "ranks disagree on "
                    + "the global batch after step \(position.step): from \(range.0) to \(~range.1)")
            }
        }
        position.batch = batch
    }

    /// Evaluates and logs the loss (when ``StepConstants/isEvaluationDue(_:isLastStep:)``); ends the run as diverged when the
    /// loss is not finite or exceeds its value before training.
    private func evaluate(_ position: inout Position, traced: Bool) throws {
        let evalEvery = configuration.evalEvery
        let evalStart = MonotonicClock.now()
        position.trainNanoseconds += evalStart - position.stretchStart
        let (loss, validationLoss) = try evaluate()
        position.lastValidationLoss = validationLoss
        position.nextEval = (position.examples / evalEvery + 1) * evalEvery
        try record(position, loss: loss, validationLoss: validationLoss)
        if !loss.isFinite {
            throw try diverge(step: position.step, loss: position.lastLoss, reason: "the loss is no longer finite")
        }
        if loss > position.initialLoss {
            throw try diverge(step: position.step, loss: loss, reason: String(
                format: "the loss %.4g exceeds its value before training, %.4g", loss, position.initialLoss))
        }
        position.lastLoss = loss
        position.stretchStart = MonotonicClock.now()
        position.evalNanoseconds += position.stretchStart - evalStart
        if traced { timeline!.add(.evaluation, from: evalStart, to: position.stretchStart, step: position.step) }
    }

    /// Writes a checkpoint (every `--checkpoint-every` steps, on rank 0); saving is not training time.
    /// `stepsInEpoch` steps of `epoch` are done, over its slots before `slot`.
    private func saveCheckpoint(
        _ position: inout Position, epoch: Int, stepsInEpoch: Int, slot: Int, traced: Bool
    ) throws {
        guard let saveCheckpoint else { return }
        let saveStart = MonotonicClock.now()
        let lastOfEpoch = slot == layout.rows
        try saveCheckpoint(TrainingState(
            parameters: Array(model.parameters), optimizerFirst: Array(optimizer.first),
            optimizerSecond: Array(optimizer.second), optimizerUpdates: optimizer.updates,
            epoch: lastOfEpoch ? epoch + 1 : epoch, stepInEpoch: lastOfEpoch ? 0 : stepsInEpoch,
            step: position.step, examples: position.examples, nextEval: position.nextEval,
            trainSeconds: Double(position.trainNanoseconds + (saveStart - position.stretchStart)) * 1e-9,
            initialLoss: position.initialLoss, lastLoss: position.lastLoss, noiseScale: position.noise,
            batchSchedule: configuration.hasRateClock ? BatchScheduleState(
                globalBatch: position.batch, slotInEpoch: lastOfEpoch ? 0 : slot, rateClock: position.rateClock) : nil))
        position.trainNanoseconds += saveStart - position.stretchStart
        position.stretchStart = MonotonicClock.now()
        if traced { timeline!.add(.checkpoint, from: saveStart, to: position.stretchStart, step: position.step) }
    }

    /// Ends the run on every rank at this step boundary because a rank received a graceful signal (the stop flag of
    /// the step's allreduce): a checkpoint (unless one was just written), an `end` record `preempted`, exit 75.
    @inline(never)
    private func preempt(
        _ position: inout Position, epoch: Int, stepsInEpoch: Int, slot: Int, saved: Bool
    ) throws -> JobFailure {
        if !saved {
            try collective.agree {
                try saveCheckpoint(&position, epoch: epoch, stepsInEpoch: stepsInEpoch, slot: slot, traced: false)
            }
        }
        progress?.finish()
        // Rank 0 names the signal it received; it may not have one yet when another rank's flag stopped the step.
        let signal = monitor?.stopSignalName
        let outcome = configuration.checkpointPath.map {
            "checkpoint '\($0)' written; the same command with \(Setting.resumePath) auto continues it"
        } ?? "no \(Setting.checkpointPath) was given, so a rerun starts over"
        let message = "preempted by \(signal ?? "a graceful signal to another rank") at step \(position.step): \(outcome)"
        try log?.append(EndRecord(reason: "preempted", step: position.step, message: message, signal: signal))
        if collective.rank == 0 { Console.error(message, rank: 0, size: 1) }
        return JobFailure(kind: .preempted, message: message, reported: true)
    }

    /// Prints a progress line when one is due (checked every 1024 steps: the check reads the clock).
    private func reportProgress(_ position: Position) {
        let now = MonotonicClock.now()
        guard progress?.isDue(now) == true else { return }
        let trainSeconds = Double(position.trainNanoseconds + (now - position.stretchStart)) * 1e-9
        let rows = layout.rows
        let speed = trainSeconds > 0 ? Double(position.examples) / trainSeconds : 0
        // With a changing batch, the steps left at the current batch.
        let stepsLeft = (configuration.epochs * rows - position.examples + position.batch - 1) / position.batch
        progress?.report(
            now: now, epoch: Double(position.examples) / Double(rows), epochs: configuration.epochs,
            step: position.step, totalSteps: configuration.batchSchedule == nil
                ? configuration.epochs * layout.stepsPerEpoch : position.step + stepsLeft, loss: position.lastLoss,
            examplesPerSecond: speed,
            secondsLeft: speed > 0 ? Double(configuration.epochs * rows - position.examples) / speed : 0)
    }

    /// After the last step: the replica check (with its fault points), then the summary.
    private func finish(_ position: Position) throws -> TrainingSummary {
        if let fault {
            if fault.isDue(.perturbReplica, rank: collective.rank) { model.parameters[0] = model.parameters[0].nextUp }
            fault.stopIfDue(.stopFinalCheck, rank: collective.rank)
        }
        guard try replicasAreIdentical() else {
            throw try inconsistent(step: position.step, reason: "replicas_differ", message: "parameters or optimizer "
                + "state differ between ranks after step \(position.step): the ranks no longer hold one model",
                replicasIdentical: false)
        }
        progress?.finish()
        // The periodic evaluations walked a sample; the final loss is over every training row.
        let finalLoss = sample == nil ? position.lastLoss : try evaluate(allRows: true).loss
        let computeNanoseconds = position.trainNanoseconds - min(position.allreduceNanoseconds, position.trainNanoseconds)
        let trainSeconds = Double(position.trainNanoseconds) * 1e-9
        let segmentSteps = Double(max(position.step - position.segmentStartStep, 1))
        let segmentNanoseconds = position.trainNanoseconds - min(position.segmentStartNanoseconds, position.trainNanoseconds)
        let segmentCompute = segmentNanoseconds - min(position.allreduceNanoseconds, segmentNanoseconds)
        return TrainingSummary(
            finalLoss: finalLoss, secondsPerEpoch: trainSeconds / Double(configuration.epochs),
            examplesPerSecond: trainSeconds > 0 ? Double(position.examples) / trainSeconds : 0,
            steps: position.step, examples: position.examples,
            seconds: TimeSplit(
                compute: Double(computeNanoseconds) * 1e-9, allreduce: Double(position.allreduceNanoseconds) * 1e-9,
                eval: Double(position.evalNanoseconds) * 1e-9, load: loadSeconds),
            parameters: model.parameterValues, validationLoss: position.lastValidationLoss, replicasIdentical: true,
            stepSeconds: StepSeconds(
                compute: Double(segmentCompute) * 1e-9 / segmentSteps,
                allreduce: Double(position.allreduceNanoseconds) * 1e-9 / segmentSteps))
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

    /// The mean loss over the training set (the evaluation sample, unless `allRows` or there is none), and over the
    /// held-out rows when there are any: each rank's rows, then one allreduce of the sums and counts.
    private func evaluate(allRows: Bool = false) throws -> (loss: Double, validation: Double?) {
        let sample = allRows ? nil : self.sample
        if let reproducible { return try reproducible.evaluate(sample: sample) }
        func lossSum(_ inputs: [Float], _ targets: [Float], _ count: Int) -> Double {
            inputs.withUnsafeBufferPointer { inputs in
                targets.withUnsafeBufferPointer { targets in
                    count == 0 ? 0 : model.squaredErrorSum(
                        inputs: inputs.baseAddress!, targets: targets.baseAddress!, count: count)
                }
            }
        }
        var totals = if let sample {
            [lossSum(sample.inputs, sample.targets, sample.count), Double(sample.count)]
        } else {
            [lossSum(shard.inputs, shard.targets, shard.rows.count), Double(shard.rows.count)]
        }
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
    static func scratchRows(largestBatch: Int, ranks: Int, shardRows: Int) -> Int {
        let largestShare = (largestBatch + ranks - 1) / ranks
        return max(largestShare, min(shardRows, 4096), 1)
    }

    /// Logs an `eval` record of `loss` at `position` (rank 0).
    private func record(_ position: Position, loss: Double, validationLoss: Double?) throws {
        guard let log else { return }
        try log.append(EvalRecord(
            step: position.step, epoch: Double(position.examples) / Double(layout.rows), examples: position.examples,
            trainSeconds: Double(position.trainNanoseconds) * 1e-9,
            wallSeconds: MonotonicClock.seconds(from: jobStart, to: MonotonicClock.now()), loss: loss, lr: position.rate,
            valLoss: validationLoss, traceSigma: position.noise?.traceSigma, gradSq: position.noise?.squaredNorm,
            noiseScale: position.noise?.noiseScale, noiseScaleInterval: position.noise?.noiseScaleInterval,
            globalBatch: configuration.batchSchedule == nil ? nil : position.batch))
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
            + String(format: "%.4g", loss) + "); try a learning rate smaller than this run's \(rate) (\(Setting.learningRate))"
        try log?.append(EndRecord(reason: "diverged", step: step, lastFiniteLoss: loss, message: message))
        if collective.rank == 0 { Console.error(message, rank: 0, size: 1) }
        return JobFailure(kind: .diverged, message: message, reported: true)
    }
}

import Foundation

/// A run's step buffers, allocated once before the first step and freed after the last: the epoch's gathered rows
/// (and the shard's columns, for a model that gathers by columns), and the allreduced buffer with the noise scale's
/// second half.
private final class StepBuffers {
    let epochInputs: UnsafeMutableBufferPointer<Float>
    let epochTargets: UnsafeMutableBufferPointer<Float>
    /// The gradient sum, the noise-scale estimate's two sums when it is on, the row count's digits, and last the
    /// stop flag.
    let reduced: UnsafeMutableBufferPointer<Float>
    let countDigits: UnsafeMutablePointer<Float>
    let stopFlag: UnsafeMutablePointer<Float>
    let secondHalf: UnsafeMutableBufferPointer<Float>?
    /// The shard's inputs column by column: by columns, each epoch's gather reads one column at a time (read row by
    /// row, the gather cost more than the linear model's whole gradient).
    let shardColumns: UnsafeMutableBufferPointer<Float>?

    init(shard: TrainingShard, floats: Int, estimatesNoise: Bool, shardColumns: UnsafeMutableBufferPointer<Float>?) {
        let rows = shard.rows.count
        epochInputs = .allocate(capacity: max(rows * shard.inputWidth, 1))
        epochTargets = .allocate(capacity: max(rows, 1))
        reduced = .allocateLineAligned(count: floats)
        stopFlag = reduced.baseAddress! + floats - 1
        countDigits = stopFlag - RowCountDigits.slots
        let parameterCount = floats - 1 - RowCountDigits.slots - (estimatesNoise ? 2 : 0)
        secondHalf = estimatesNoise ? .allocateLineAligned(count: parameterCount) : nil
        self.shardColumns = shardColumns
    }

    deinit {
        epochInputs.deallocate()
        epochTargets.deallocate()
        reduced.deallocateLineAligned()
        secondHalf?.deallocateLineAligned()
        shardColumns?.deallocate()
    }
}

/// What every step reads from the configuration, read once (a configuration's schedule, read per step, was a
/// copy of its milestones' array with its reference counting).
// Outside the generic Trainer: a type nested in a generic class is generic too, and its unspecialised code
// checked its metadata per step.
private struct StepConstants {
    /// The model's parameters (read through the model's protocol, once).
    let parameters: UnsafeMutableBufferPointer<Float>
    let parameterCount: Int
    let totalSteps: Int
    let baseRate: Double
    let schedule: LearningRateSchedule
    let constantRate: Bool
    let noiseDecay: Double?
    let evalEverySteps: Int?
    /// The batch schedule, when the batch changes, and the multiple its batches are rounded to.
    let batchSchedule: BatchSchedule?
    let batchGranularity: Int
    /// The learning-rate clock's rule (``TrainingConfiguration/hasRateClock``): the unscaled rate, its scaling with
    /// the batch or AdaScale's gain, and the clock's length in steps of the base batch.
    let hasRateClock: Bool
    let followsGain: Bool
    let learningRate: Double
    let scaling: LearningRateScaling
    let baseBatch: Int
    let maximumRate: Double?
    let clockSteps: Int

    init(_ configuration: TrainingConfiguration, layout: ShardLayout, parameters: UnsafeMutableBufferPointer<Float>) {
        batchSchedule = configuration.batchSchedule
        batchGranularity = configuration.batchGranularity(ranks: layout.ranks)
        hasRateClock = configuration.hasRateClock
        followsGain = configuration.scaleLR == .adascale
        learningRate = configuration.learningRate
        scaling = configuration.scaleLR
        baseBatch = configuration.baseBatch
        maximumRate = configuration.maxLR
        clockSteps = (configuration.epochs * layout.rows + configuration.baseBatch - 1) / configuration.baseBatch
        self.parameters = parameters
        parameterCount = parameters.count
        totalSteps = configuration.epochs * layout.stepsPerEpoch
        baseRate = configuration.effectiveLearningRate ?? configuration.learningRate
        schedule = configuration.schedule
        constantRate = configuration.schedule.isConstant
        noiseDecay = configuration.noiseScaleDecay
        evalEverySteps = configuration.evalEverySteps
    }

    /// After the last step, and every `--eval-every-steps` steps or when the examples reach the next multiple of
    /// `--eval-every`.
    func isEvaluationDue(_ position: Position, isLastStep: Bool) -> Bool {
        if isLastStep { return true }
        if let evalEverySteps { return position.step % evalEverySteps == 0 }
        return position.examples >= position.nextEval
    }
}

extension StepConstants {
    /// The rate of a run with a learning-rate clock: the base rate scaled to `batch` (AdaScale: unscaled), the
    /// schedule read at the clock (in steps of the base batch), times `gain`, within `--max-lr`.
    func clockedRate(clock: Double, batch: Int, epoch: Int, gain: Double) -> Double {
        let base = scaling.scale(learningRate, batch: batch, baseBatch: baseBatch, maximum: maximumRate)
        let scheduled = constantRate
            ? base : schedule.rate(base: base, step: Int(clock), epoch: epoch, totalSteps: clockSteps)
        return maximumRate.map { min($0, scheduled * gain) } ?? scheduled * gain
    }
}

/// The loop's state between steps: where the run stands, the rate, the losses and the time spent.
private struct Position {
    var step: Int
    var examples: Int
    var nextEval: Int
    /// The learning rate of the last update.
    var rate: Double
    /// The loss before the first step (the divergence threshold) and the last evaluated losses.
    let initialLoss: Double
    var lastLoss: Double
    var lastValidationLoss: Double?
    var noise: GradientNoiseScale?
    /// The global batch of the next step (changed by a batch schedule) and the learning-rate clock
    /// (``BatchScheduleState``).
    var batch: Int
    var rateClock: Double
    /// Training time is read at the edges of stretches between evaluations; inside a step the clock is read
    /// only around the allreduce, and not at all on one rank (where a whole sgd step costs a few clock reads).
    var trainNanoseconds: UInt64 = 0
    var allreduceNanoseconds: UInt64 = 0
    var evalNanoseconds: UInt64 = 0
    /// Where this process's steps began (a resumed run's training time includes the segments before it).
    var segmentStartStep = 0
    var segmentStartNanoseconds: UInt64 = 0
    var stretchStart: UInt64 = 0
    /// The end of the previous step, for `bench step`'s durations.
    var previousStepMark: UInt64 = 0
}
