import Common
import Data
import Models
import Optimization

/// How rank 0 reports progress on standard error.
public enum ProgressMode: String, CaseIterable, Codable, Sendable {
    /// A live, rewritten line when standard error is a terminal; otherwise a plain line every few seconds.
    case auto
    /// A live, rewritten line even when standard error is not a terminal (e.g. mpirun forwarding to one).
    case always
    /// No progress output.
    case never
}

/// Every setting of one training job, as resolved from the command line and the preset.
///
/// `rows` and `globalBatch` may be `nil` until the data is loaded ("the default" and "all training rows");
/// the run log's header records them resolved.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    /// The data file.
    public var dataPath: String
    /// The number of leading rows to train on; `nil` for the default (1500, or the whole file if shorter).
    public var rows: Int?
    /// The preset the other values came from.
    public var preset: Preset
    /// The model trained: the chapter's linear regression or an MLP.
    public var model: ModelSpec = .linear
    /// Rows after the training rows held out for `val_loss` (0: none).
    public var validationRows: Int = 0
    /// Where rank 0 saves the trained model at the end, if anywhere.
    public var saveModelPath: String?
    /// Where rank 0 writes the Chrome-trace timeline of the first ``timelineSteps`` steps, if anywhere.
    public var timelinePath: String?
    /// Steps the timeline covers.
    public var timelineSteps: Int = 1000
    /// The optimizer, its hyperparameters and base learning rate.
    public var optimizer: OptimizerSettings
    /// How the learning rate changes over the run.
    public var schedule: LearningRateSchedule
    /// How the base learning rate is scaled with the global batch.
    public var scaleLR: LearningRateScaling
    /// The global batch at which the base learning rate applies unscaled.
    public var baseBatch: Int
    /// A cap on the scaled learning rate, if any.
    public var maxLR: Double?
    /// Epochs of linear warmup, converted into the schedule's steps once the global batch is known.
    public var warmupEpochs: Double?
    /// The learning rate after scaling and capping (resolved with the global batch; the schedule starts here).
    public var effectiveLearningRate: Double?
    /// Examples per step across all ranks; `nil` for all training rows.
    public var globalBatch: Int?
    /// Passes over the training set.
    public var epochs: Int
    /// The seed of the initial weights and of every epoch's order.
    public var seed: UInt64
    /// Evaluate the training loss each time this many more examples have been seen.
    public var evalEvery: Int
    /// `--eval-every-steps`: evaluate every this many steps instead (nil: by `evalEvery`; absent from logs and
    /// checkpoints then, as in those written before it existed).
    public var evalEverySteps: Int?
    /// `--eval-rows`: the training rows each periodic evaluation walks, a fixed sample when fewer than the training
    /// rows (nil: every row up to 65,536, else a sample of 65,536; absent from logs and checkpoints then, as in
    /// those written before it existed).
    public var evalRows: Int?
    /// The JSON Lines run log to write, if any.
    public var logPath: String?
    /// Whether a new run may replace a run log that already holds records.
    public var overwriteLog = false
    /// How progress is shown.
    public var progress: ProgressMode
    /// Where rank 0 writes checkpoints, if anywhere.
    public var checkpointPath: String?
    /// Steps between checkpoints (required with a checkpoint path).
    public var checkpointEvery: Int = 0
    /// The checkpoint to continue from, if any; ``automaticResume`` for the `--checkpoint` file when it exists.
    public var resumePath: String?
    /// `--resume auto`: continue from `checkpointPath` if a file is there, else start fresh (a first run and a
    /// requeued one are the same command); resolved by the job before anything else reads it.
    public static let automaticResume = "auto"
    /// Seconds a collective may stay open before the job is ended as stalled.
    public var stallTimeout: Double = defaultStallTimeout
    /// The stall timeout when none is given.
    public static let defaultStallTimeout = 300.0
    /// The per-step decay of the gradient noise scale's moving averages (``GradientNoiseScale``); `nil` when the
    /// estimate is off (`--noise-scale off`). Optional so that checkpoints written before it existed still read.
    public var noiseScaleDecay: Double? = 0.99
    /// `--reproducible`: true for bit-identical results at any rank count (``ReproducibleSteps``); nil otherwise
    /// (absent in logs and checkpoints of the default mode, as in those written before it existed).
    public var reproducible: Bool?

    /// `--batch-schedule`: how the global batch changes (nil: fixed at ``globalBatch``; absent from logs and
    /// checkpoints then, as in those written before it existed). ``globalBatch`` is the first step's batch.
    public var batchSchedule: BatchSchedule?

    /// Whether the run keeps a learning-rate clock in steps of the base batch (``BatchScheduleState/rateClock``):
    /// with a changing batch, or AdaScale's gain.
    public var hasRateClock: Bool { batchSchedule != nil || scaleLR == .adascale }

    /// How the batch schedule's batches are rounded: to multiples of the rank count in the default mode (every rank
    /// fills its share of every step), of 1 with `--reproducible`.
    public func batchGranularity(ranks: Int) -> Int { isReproducible ? 1 : ranks }

    /// The largest global batch the run can reach (``globalBatch`` resolved), for buffers sized before the first
    /// step.
    public func largestBatch(ranks: Int, rows: Int) -> Int {
        let batch = globalBatch ?? rows
        return min(batchSchedule?.largestBatch(from: batch, granularity: batchGranularity(ranks: ranks), rows: rows)
            ?? batch, rows)
    }

    /// Whether the run is in the `--reproducible` mode.
    public var isReproducible: Bool { reproducible == true }

    /// Creates a configuration from a preset, overriding the values given.
    ///
    /// Without `optimizer`, the optimizer is plain SGD at `learningRate`, or at the preset's rate.
    public init(
        dataPath: String, preset: Preset = .minibatch100, rows: Int? = nil, learningRate: Double? = nil,
        optimizer: OptimizerSettings? = nil, schedule: LearningRateSchedule = LearningRateSchedule(),
        scaleLR: LearningRateScaling = .none, baseBatch: Int = 100, maxLR: Double? = nil,
        globalBatch: Int? = nil, epochs: Int? = nil, seed: UInt64 = 0, evalEvery: Int = 200,
        logPath: String? = nil, progress: ProgressMode = .auto
    ) {
        self.dataPath = dataPath
        self.rows = rows
        self.preset = preset
        var settings = optimizer ?? OptimizerSettings.defaults(for: .sgd)
        if optimizer == nil { settings.learningRate = learningRate ?? preset.learningRate }
        self.optimizer = settings
        self.schedule = schedule
        self.scaleLR = scaleLR
        self.baseBatch = baseBatch
        self.maxLR = maxLR
        self.globalBatch = globalBatch ?? preset.globalBatch
        self.epochs = epochs ?? preset.epochs
        self.seed = seed
        self.evalEvery = evalEvery
        self.logPath = logPath
        self.progress = progress
    }

    /// The base learning rate (the optimizer's).
    public var learningRate: Double { optimizer.learningRate }

    /// Why the stall timeout cannot be used, if it cannot (the watchdog starts before the other checks).
    public var stallTimeoutProblem: String? {
        stallTimeout > 0 && stallTimeout.isFinite
            ? nil : "\(Setting.stallTimeout) must be a positive number of seconds (got \(stallTimeout))"
    }

    /// The problems of the values that can be judged without data or ranks, one line each.
    public var problems: [String] {
        var found: [String] = []
        if !(learningRate.isFinite && learningRate > 0) {
            found.append("\(Setting.learningRate) must be a positive finite number (got \(learningRate))")
        }
        found += optimizer.problems.filter { !$0.hasPrefix("the learning rate") }
        found += schedule.problems
        if let warmupEpochs, !(warmupEpochs >= 0 && warmupEpochs.isFinite) {
            found.append("\(Setting.warmupEpochs) must be a non-negative number (got \(warmupEpochs))")
        }
        if checkpointPath != nil && checkpointEvery <= 0 {
            found.append("\(Setting.checkpointPath) needs \(Setting.checkpointEvery) N with N > 0 (steps)")
        }
        if checkpointPath == nil && checkpointEvery != 0 { found.append("\(Setting.checkpointEvery) needs \(Setting.checkpointPath) FILE") }
        if resumePath == Self.automaticResume && checkpointPath == nil {
            found.append("\(Setting.resumePath) \(Self.automaticResume) continues \(Setting.checkpointPath) FILE, which is not given")
        }
        if let stallTimeoutProblem { found.append(stallTimeoutProblem) }
        if let noiseScaleDecay, !(noiseScaleDecay > 0 && noiseScaleDecay < 1) {
            found.append("\(Setting.noiseScaleDecay) must be between 0 and 1, both excluded (got \(noiseScaleDecay))")
        }
        if baseBatch <= 0 { found.append("\(Setting.baseBatch) must be positive (got \(baseBatch))") }
        if let maxLR, !(maxLR > 0 && maxLR.isFinite) { found.append("\(Setting.maximumRate) must be a positive number (got \(maxLR))") }
        if epochs <= 0 { found.append("\(Setting.epochs) must be positive (got \(epochs))") }
        if evalEvery <= 0 { found.append("\(Setting.evalEvery) must be positive (got \(evalEvery))") }
        if let evalRows, evalRows <= 0 { found.append("\(Setting.evalRows) must be positive (got \(evalRows))") }
        if let evalEverySteps, evalEverySteps <= 0 {
            found.append("\(Setting.evalEverySteps) must be positive (got \(evalEverySteps))")
        }
        if let rows, rows <= 0 { found.append("\(Setting.rows) must be positive (got \(rows))") }
        if validationRows < 0 { found.append("\(Setting.validationRows) must not be negative (got \(validationRows))") }
        if !(1...10_000_000).contains(timelineSteps) {
            found.append("\(Setting.timelineSteps) must be between 1 and 10000000 (got \(timelineSteps))")
        }
        found += model.problems
        if let globalBatch, globalBatch <= 0 { found.append("\(Setting.globalBatch) must be positive (got \(globalBatch))") }
        if let batchSchedule {
            found += batchSchedule.problems
            if noiseScaleDecay == nil && batchSchedule.kind == .noise {
                found.append("\(Setting.batchSchedule) noise follows the noise scale, which \(Setting.noiseScale) off turns off")
            }
            if batchSchedule.kind == .warmup, let globalBatch, globalBatch != batchSchedule.start {
                found.append("\(Setting.globalBatch) \(globalBatch) is not the warmup's first batch, \(batchSchedule.start ?? 0)")
            }
        }
        if scaleLR == .adascale && noiseScaleDecay == nil {
            found.append("\(Setting.scaleRate) adascale takes its gain from the noise scale, which \(Setting.noiseScale) off turns off")
        }
        return found
    }
}

extension TrainingConfiguration {
    /// Why a run of these settings cannot continue a run of `earlier`'s (a checkpoint's, or a run log header's), as
    /// a phrase that follows "was written", or nil when it can.
    ///
    /// The model shape, held-out rows, mode, global batch, optimizer, learning rate, schedule and seed must match,
    /// and the epochs too unless the learning rate is constant (then a run may be extended). Where outputs go, the
    /// rank count and the progress display may differ.
    public func continuationProblem(of earlier: TrainingConfiguration) -> String? {
        if earlier.model != model || earlier.validationRows != validationRows {
            return "was written for the model \(earlier.model.description) with \(earlier.validationRows) held-out rows, "
                + "not \(model.description) with \(validationRows)"
        }
        if earlier.isReproducible != isReproducible {
            return earlier.isReproducible
                ? "was written by a \(Setting.reproducible) run" : "was not written by a \(Setting.reproducible) run"
        }
        if earlier.globalBatch != globalBatch {
            return "was written with global batch \(earlier.globalBatch ?? 0), not \(globalBatch ?? 0)"
        }
        if earlier.optimizer != optimizer || earlier.schedule != schedule
            || earlier.effectiveLearningRate != effectiveLearningRate
        {
            return "was written with another optimizer, learning rate or schedule"
        }
        if earlier.batchSchedule != batchSchedule || earlier.hasRateClock != hasRateClock
            || (hasRateClock && (earlier.scaleLR != scaleLR || earlier.baseBatch != baseBatch || earlier.maxLR != maxLR))
        {
            return "was written with another \(Setting.batchSchedule) or \(Setting.scaleRate)"
        }
        if earlier.seed != seed { return "was written with seed \(earlier.seed), not \(seed)" }
        if earlier.epochs != epochs && !schedule.isConstant {
            return "was written for \(earlier.epochs) epochs, not \(epochs), and the schedule depends on them"
        }
        return nil
    }
}

extension TrainingConfiguration {
    /// Checks the run's outputs against its inputs, each other and what is at their paths (``OutputPaths``): no
    /// output may be the data, the checkpoint resumed from (unless it is the checkpoint written, the resume loop)
    /// or another output, and each must be writable before the first step.
    /// - Throws: ``JobFailure`` of kind `.usage` or `.output`.
    public func checkFiles() throws {
        var inputs: [(flag: String, path: String)] = []
        if (try? SyntheticData.parse(dataPath)) ?? nil == nil { inputs.append(("\(Setting.dataPath)", dataPath)) }
        if let resumePath { inputs.append(("\(Setting.resumePath)", resumePath)) }
        var outputs: [(flag: String, path: String, mode: OutputMode)] = []
        if let logPath { outputs.append(("\(Setting.logPath)", logPath, .appended)) }
        if let checkpointPath { outputs.append(("\(Setting.checkpointPath)", checkpointPath, .replaced)) }
        if let saveModelPath { outputs.append(("\(Setting.saveModelPath)", saveModelPath, .replaced)) }
        if let timelinePath { outputs.append(("\(Setting.timelinePath)", timelinePath, .replaced)) }
        try OutputPaths.check(inputs: inputs, outputs: outputs, allowed: [["\(Setting.resumePath)", "\(Setting.checkpointPath)"]])
    }
}
