import Common
import Data
import Foundation
import Models
import Optimization

/// Everything a run needs to continue exactly where it stopped: parameters, optimizer state and the position in
/// the step plan. Sample orders are not stored: each epoch's order is drawn from `(seed, epoch, rank)` alone.
public struct TrainingState: Codable, Equatable, Sendable {
    /// The weights, then the bias.
    public var parameters: [Float]
    /// The optimizer's first and second state buffers and its update count.
    public var optimizerFirst: [Float]
    public var optimizerSecond: [Float]
    public var optimizerUpdates: Int
    /// The epoch of the next step, and that step's index within the epoch.
    public var epoch: Int
    public var stepInEpoch: Int
    /// Steps taken and examples seen so far, across all ranks.
    public var step: Int
    public var examples: Int
    /// The next example count at which to evaluate.
    public var nextEval: Int
    /// Training seconds so far.
    public var trainSeconds: Double
    /// The loss before the first step (the divergence threshold) and the last evaluated loss.
    public var initialLoss: Double
    public var lastLoss: Double
    /// The gradient noise scale's moving averages, when the run estimates it (absent in older checkpoints: the
    /// resumed run starts them afresh).
    public var noiseScale: GradientNoiseScale?
    /// The batch schedule's and the learning-rate clock's state, when the run has a clock
    /// (``TrainingConfiguration/hasRateClock``); absent otherwise, as in checkpoints written before it existed.
    public var batchSchedule: BatchScheduleState?

    /// Creates a state.
    public init(
        parameters: [Float], optimizerFirst: [Float], optimizerSecond: [Float], optimizerUpdates: Int, epoch: Int,
        stepInEpoch: Int, step: Int, examples: Int, nextEval: Int, trainSeconds: Double, initialLoss: Double,
        lastLoss: Double, noiseScale: GradientNoiseScale? = nil, batchSchedule: BatchScheduleState? = nil
    ) {
        self.noiseScale = noiseScale
        self.batchSchedule = batchSchedule
        self.parameters = parameters
        self.optimizerFirst = optimizerFirst
        self.optimizerSecond = optimizerSecond
        self.optimizerUpdates = optimizerUpdates
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
        self.step = step
        self.examples = examples
        self.nextEval = nextEval
        self.trainSeconds = trainSeconds
        self.initialLoss = initialLoss
        self.lastLoss = lastLoss
    }
}

/// A checkpoint file: the state, the configuration that produced it and the data it was trained on.
///
/// On disk: one line `airfoil-dp checkpoint <version> <sha1 of the payload>`, then the payload as JSON. Floats are
/// written in shortest round-trip form, so they read back bit for bit; the checksum catches truncation and
/// flipped bytes. Files are written to a temporary name, synced and renamed, so a crash never leaves half a file.
public struct Checkpoint: Codable, Equatable, Sendable {
    /// The format version this build writes; it also reads version 4.
    /// Version 5 adds the batch schedule's state (`state.batch_schedule`: the next step's batch, the position in the
    /// epoch in examples, the learning-rate clock), required when the run's batch changes or its rate follows
    /// AdaScale; a build before it would resume such a run as a fixed one, so it refuses the new version. Version 4
    /// (airfoil-dp 0.3) adds the noise scale's averages of squares and products and its
    /// `weight_squares`, from which its interval comes. Version 3 (0.3 before it) writes its keys as every file does (``JSONFormat``: snake_case, where version 2
    /// wrote camelCase) and requires the noise scale's state when the run estimates it. Version 2 (0.2) added the
    /// model's architecture, the held-out rows and the model file path. Other versions are refused with one line.
    public static let formatVersion = 5

    /// The run's resolved configuration.
    public var configuration: TrainingConfiguration
    /// The data trained on.
    public var data: DataDescription
    /// Column means and deviations of the data (a fingerprint of its contents).
    public var means: [Double]
    public var standardDeviations: [Double]
    /// The rank count that wrote it.
    public var ranks: Int
    /// Where training stands.
    public var state: TrainingState

    /// Creates a checkpoint.
    public init(configuration: TrainingConfiguration, data: DataDescription, means: [Double],
                standardDeviations: [Double], ranks: Int, state: TrainingState) {
        self.configuration = configuration
        self.data = data
        self.means = means
        self.standardDeviations = standardDeviations
        self.ranks = ranks
        self.state = state
    }

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        Self.layout.encode([UInt8](try JSONFormat.encoder().encode(self)))
    }

    static let layout = DigestedFile(kind: "checkpoint", version: formatVersion, alsoReads: [4])

    /// Parses a checkpoint file's bytes.
    /// - Throws: ``JobFailure`` of kind `.invalidData` saying what is wrong (magic, version, checksum, content).
    public static func decode(_ bytes: [UInt8], source: String) throws -> Checkpoint {
        let payload = try layout.payload(of: bytes, what: "checkpoint '\(source)'")
        do {
            return try JSONFormat.decoder().decode(Checkpoint.self, from: Data(payload))
        } catch let error as DecodingError {
            throw JobFailure(.invalidData, "checkpoint '\(source)' has a valid checksum, but \(error.fieldProblem)")
        } catch {
            throw JobFailure(.invalidData, "checkpoint '\(source)' has a valid checksum but unreadable content")
        }
    }

    /// Checks every state field against the run it would continue, before any of them is used as an index or a
    /// count: the digest only proves the file is the one written, and anyone can write one (SHA-1 is a checksum,
    /// not a signature). Call it after ``incompatibility(with:data:means:standardDeviations:)`` has accepted the
    /// configuration, so `layout` (the run's rows and global batch) is also the checkpoint's.
    ///
    /// - Parameter parameterCount: the run's model's parameter count.
    /// - Throws: ``JobFailure`` of kind `.invalidData` naming the first bad field, its value and what it must be.
    public func validate(parameterCount: Int, layout: ShardLayout, source: String) throws {
        // Fields are named as the file spells them (JSONFormat's snake_case).
        func fail(_ field: String, _ problem: String) -> JobFailure {
            let name = field.split(separator: ".").map { JSONFormat.snakeCase(String($0)) }.joined(separator: ".")
            return JobFailure(.invalidData, "checkpoint '\(source)': field '\(name)' \(problem)")
        }
        func require(_ field: String, _ value: Int, in range: ClosedRange<Int>) throws {
            guard range.contains(value) else {
                throw fail(field, "is \(value), outside \(range.lowerBound)..\(range.upperBound)")
            }
        }
        func requireBuffer(_ field: String, _ values: [Float]) throws {
            guard values.count == parameterCount else {
                throw fail(field, "has \(values.count) values; the model has \(parameterCount) parameters")
            }
            if let bad = values.firstIndex(where: { !$0.isFinite }) { throw fail("\(field)[\(bad)]", "is not finite") }
        }
        func requireNonNegative(_ field: String, _ value: Double) throws {
            guard value.isFinite && value >= 0 else { throw fail(field, "is \(value), not a finite number >= 0") }
        }
        func requireNonNegative(_ field: String, _ values: [Float]) throws {
            if let bad = values.firstIndex(where: { $0 < 0 }) {
                throw fail("\(field)[\(bad)]", "is \(values[bad]); \(configuration.optimizer.kind.rawValue)'s running "
                    + "averages of squares are never negative")
            }
        }
        let epochs = configuration.epochs
        try require("configuration.epochs", epochs, in: 1...(Int.max / (2 * layout.rows)))
        try require("configuration.evalEvery", configuration.evalEvery, in: 1...Int.max)
        if let steps = configuration.evalEverySteps { try require("configuration.evalEverySteps", steps, in: 1...Int.max) }
        if let rows = configuration.evalRows { try require("configuration.evalRows", rows, in: 1...Int.max) }
        try require("ranks", ranks, in: 1...Int(Int32.max))
        try requireBuffer("state.parameters", state.parameters)
        try requireBuffer("state.optimizerFirst", state.optimizerFirst)
        try requireBuffer("state.optimizerSecond", state.optimizerSecond)
        try require("state.epoch", state.epoch, in: 0...epochs)
        let examples: Int
        if configuration.batchSchedule != nil {
            // The batch changes, so the steps of an epoch are not planned: the position in it is its examples.
            guard let schedule = state.batchSchedule else {
                throw fail("state.batchSchedule", "is missing, but the run's batch changes")
            }
            try require("state.batchSchedule.slotInEpoch", schedule.slotInEpoch,
                        in: 0...(state.epoch == epochs ? 0 : layout.rows - 1))
            try require("state.batchSchedule.globalBatch", schedule.globalBatch, in: 1...layout.rows)
            examples = state.epoch * layout.rows + schedule.slotInEpoch
            try require("state.stepInEpoch", state.stepInEpoch, in: 0...schedule.slotInEpoch)
            // Each step takes at least one example; a resume at another rank count skips examples, not steps.
            try require("state.step", state.step, in: state.stepInEpoch...max(examples, state.stepInEpoch))
            try require("state.optimizerUpdates", state.optimizerUpdates, in: 0...state.step)
        } else {
            let stepsPerEpoch = layout.stepsPerEpoch
            try require("state.stepInEpoch", state.stepInEpoch, in: 0...(state.epoch == epochs ? 0 : stepsPerEpoch - 1))
            let step = state.epoch * stepsPerEpoch + state.stepInEpoch
            try require("state.step", state.step, in: step...step)
            // Fewer updates than steps is a resume at another rank count in the default mode: it skipped the rest of
            // an epoch (``resumePoint(ranks:layout:)``), advancing the step but not the optimizer.
            try require("state.optimizerUpdates", state.optimizerUpdates, in: 0...step)
            examples = state.epoch * layout.rows
                + (state.stepInEpoch == 0 ? 0 : layout.slots(ofStep: state.stepInEpoch - 1).upperBound)
            if let schedule = state.batchSchedule {
                try require("state.batchSchedule.slotInEpoch", schedule.slotInEpoch, in: (examples - state.epoch
                    * layout.rows)...(examples - state.epoch * layout.rows))
                try require("state.batchSchedule.globalBatch", schedule.globalBatch,
                            in: layout.globalBatch...layout.globalBatch)
            }
        }
        try require("state.examples", state.examples, in: examples...examples)
        try require("state.nextEval", state.nextEval, in: (examples + 1)...Int.max)
        // Training time is counted in UInt64 nanoseconds: a bound far below their 584 years keeps it convertible.
        guard state.trainSeconds.isFinite && (0...Self.maximumTrainSeconds).contains(state.trainSeconds) else {
            throw fail("state.trainSeconds", "is \(state.trainSeconds), outside 0..\(Self.maximumTrainSeconds) seconds")
        }
        try requireNonNegative("state.initialLoss", state.initialLoss)
        try requireNonNegative("state.lastLoss", state.lastLoss)
        switch configuration.optimizer.kind {
        case .adagrad, .rmsprop: try requireNonNegative("state.optimizerFirst", state.optimizerFirst)
        case .adadelta:
            try requireNonNegative("state.optimizerFirst", state.optimizerFirst)
            try requireNonNegative("state.optimizerSecond", state.optimizerSecond)
        case .adam, .lamb: try requireNonNegative("state.optimizerSecond", state.optimizerSecond)
        case .sgd, .momentum, .nag, .lars: break
        }
        if configuration.noiseScaleDecay != nil && state.noiseScale == nil {
            throw fail("state.noiseScale", "is missing, but the run estimates the noise scale (it would restart "
                + "unannounced)")
        }
        if let problem = state.noiseScale?.problem { throw fail("state.noiseScale", problem) }
        if configuration.hasRateClock != (state.batchSchedule != nil) {
            throw fail("state.batchSchedule", configuration.hasRateClock
                ? "is missing, but the run's learning rate has a clock" : "is present, but the run has no batch schedule")
        }
        if let clock = state.batchSchedule?.rateClock, !(clock >= 0 && clock <= Self.maximumRateClock) {
            throw fail("state.batchSchedule.rateClock", "is \(clock), outside 0..\(Self.maximumRateClock)")
        }
    }

    /// The largest learning-rate clock a checkpoint may hold: far more steps than any run takes, and exact as an Int.
    public static let maximumRateClock = 1e15

    /// The most training seconds a checkpoint may claim (about 31.7 years).
    public static let maximumTrainSeconds = 1e9

    /// Writes the checkpoint atomically: a temporary file beside `path`, fsync, rename.
    /// - Throws: ``JobFailure`` of kind `.output`.
    public func write(to path: String) throws {
        try AtomicFile.write(try encoded(), to: path, what: "the checkpoint")
    }

    /// Why this checkpoint cannot continue `configuration` on `data` with `ranks` ranks, if it cannot.
    ///
    /// The data, model shape, global batch, optimizer, schedule and seed must match, and the epochs too unless the
    /// learning rate is constant (then a run may be extended). The rank count may differ (the global batch fixes
    /// the step plan), though the sample order then differs from an uninterrupted run's
    /// (``resumePoint(ranks:layout:)``).
    public func incompatibility(with configuration: TrainingConfiguration, data: DataDescription,
                                means: [Double], standardDeviations: [Double]) -> String? {
        // Statistics are compared to 1e-9 relative: their last bits depend on the rank count (summation order).
        func close(_ lhs: [Double], _ rhs: [Double]) -> Bool {
            lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($0)) }
        }
        if let problem = data.continuationProblem(of: self.data) { return problem }
        if !close(means, self.means) || !close(standardDeviations, self.standardDeviations) {
            return "was written for other data (other column statistics)"
        }
        return configuration.continuationProblem(of: self.configuration)
    }

    /// Where a run on `ranks` ranks continues this (validated) checkpoint, and how many steps of the plan it skips.
    ///
    /// On the rank count that wrote it, exactly where it stopped. On another rank count, a checkpoint written
    /// mid-epoch continues at the start of the next epoch: each rank's sample order is drawn from its own shard,
    /// and the shards change with the rank count, so the rest of the interrupted epoch could not be drawn without
    /// using some rows twice and others not at all. Skipping keeps every row at most once in that epoch and
    /// exactly once in every later one; the optimizer's update count is kept (it counts updates, not plan steps).
    /// A `--reproducible` run's order covers all rows whatever the rank count: it continues where it stopped.
    ///
    /// A run whose batch changes keeps its step count (its steps are not planned) and reports the examples it skips;
    /// its next batch is rounded to a multiple of the new rank count (``BatchSchedule/fitted(_:granularity:rows:)``).
    public func resumePoint(
        ranks newRanks: Int, layout: ShardLayout
    ) -> (state: TrainingState, skippedSteps: Int, skippedExamples: Int) {
        var next = state
        if var schedule = next.batchSchedule, let rule = configuration.batchSchedule {
            schedule.globalBatch = rule.fitted(
                Double(schedule.globalBatch), granularity: configuration.batchGranularity(ranks: newRanks),
                rows: layout.rows)
            next.batchSchedule = schedule
        }
        let midEpoch = state.stepInEpoch != 0 || (state.batchSchedule?.slotInEpoch ?? 0) != 0
        guard newRanks != ranks && midEpoch && !configuration.isReproducible else { return (next, 0, 0) }
        let skippedExamples = (state.epoch + 1) * layout.rows - state.examples
        next.epoch += 1
        next.stepInEpoch = 0
        next.examples = next.epoch * layout.rows
        next.batchSchedule?.slotInEpoch = 0
        guard configuration.batchSchedule == nil else { return (next, 0, skippedExamples) }
        next.step = next.epoch * layout.stepsPerEpoch
        return (next, layout.stepsPerEpoch - state.stepInEpoch, skippedExamples)
    }

    /// Why a valid checkpoint cannot continue to `epochs` epochs, if it cannot: it is already past them.
    public func extensionProblem(epochs: Int, layout: ShardLayout) -> String? {
        state.examples > epochs * layout.rows
            ? "is already past the \(epochs) epochs asked for (step \(state.step))" : nil
    }
}
