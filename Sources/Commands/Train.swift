import ArgumentParser
import Common
import Data
import Formats
import Foundation
import MPI
import Models
import Optimization
import Runtime
import Training

extension Preset: ExpressibleByArgument {}
extension ProgressMode: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension LearningRateSchedule.Kind: ExpressibleByArgument {}
extension LearningRateScaling: ExpressibleByArgument {}

/// A feature turned on or off by an option's value.
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
}

/// The signals `--graceful-signal` names.
enum GracefulSignal: String, ExpressibleByArgument {
    case usr1 = "USR1", term = "TERM"
}

/// `airfoil-dp train`: the chapter's linear regression by minibatch SGD, one shard per MPI rank.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the linear model or an MLP (the default subcommand).",
        discussion: """
            Presets (flags override their values): \(Preset.allCases.map(\.summary).joined(separator: ", ")).
            Exit codes: \(JobFailure.exitCodeHelp(
                JobFailure.Kind.allCases, extra: ["130 interrupted (SIGINT)", "143 terminated (SIGTERM)"])). \
            SIGUSR1 (and SIGTERM with --graceful-signal TERM) stops at the next step boundary, checkpoints and exits \
            75; under mpirun, send SIGUSR1 to mpirun, which forwards it to every rank (mpirun sent SIGTERM ends the \
            job itself).
            """)

    @Option(help: ArgumentHelp(DataHelp.data))
    var data: String?

    @Option(help: ArgumentHelp(DataHelp.rows))
    var rows: Int?

    @Option(help: "The chapter's experiment to start from: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: Preset = .minibatch100

    @Option(help: "Learning rate (default: the preset's for sgd, Gluon's for the other optimizers).")
    var lr: Double?

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp(DataHelp.validationRows + "; every eval record then carries val_loss."))
    var valRows: Int = 0

    @Option(help: "Save the trained model to this file at the end (rank 0; read by 'airfoil-dp predict').")
    var saveModel: String?

    @Option(help: "Write a Chrome trace (Perfetto, chrome://tracing) of where each rank's time went to this file.")
    var timeline: String?

    @Option(help: "Steps the --timeline covers, from the first.")
    var timelineSteps: Int = 1000

    @Option(help: "The update rule: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var optimizer: OptimizerKind = .sgd

    @Option(name: .customLong("hp"), help: ArgumentHelp(
        "A hyperparameter by Gluon's name, e.g. --hp momentum=0.9 (repeatable).",
        discussion: "Names: \(OptimizerSettings.names.joined(separator: ", ")).", valueName: "name=value"))
    var hyperparameters: [String] = []

    @Option(help: "Learning-rate schedule: constant, factor (per step), multifactor (at --milestones), cosine.")
    var schedule: LearningRateSchedule.Kind = .constant

    @Option(help: "The multiplier of the factor and multifactor schedules.")
    var scheduleFactor: Double = 1

    @Option(help: "Epochs at which multifactor multiplies the rate, comma-separated (e.g. 5,8).")
    var milestones: String?

    @Option(help: "The floor of factor and the end value of cosine.")
    var minLr: Double = 0

    @Option(help: "Steps of linear warmup up to the learning rate.")
    var warmupSteps: Int = 0

    @Option(help: "Epochs of linear warmup (converted to steps; overrides --warmup-steps).")
    var warmupEpochs: Double?

    @Option(help: "Scale the learning rate with the global batch: linear, sqrt or none (Goyal et al. 2017), or adascale (times AdaScale's gain from the noise scale, Johnson et al. 2020).")
    var scaleLr: LearningRateScaling = .none

    @Option(help: "The global batch at which the learning rate is given, for --scale-lr.")
    var baseBatch: Int = 100

    @Option(help: "A cap on the scaled learning rate.")
    var maxLr: Double?

    @Option(help: "Examples per step across all ranks (default: the preset's).")
    var globalBatch: Int?

    @Option(help: ArgumentHelp(
        "How the global batch changes: fixed, noise (toward the gradient noise scale) or warmup:B0:B1:STEPS (a linear ramp).",
        discussion: "noise: every --batch-every steps, toward --batch-multiple x the smoothed noise scale, by at most --batch-factor, within --min-batch and --max-batch; a multiple of the rank count except with --reproducible (docs/batch-size.md).",
        valueName: "schedule"))
    var batchSchedule: String = "fixed"

    @Option(help: "Steps between the batch schedule's adjustments (default 10).")
    var batchEvery: Int?

    @Option(help: "The noise schedule's target as a multiple of the noise scale (default 1).")
    var batchMultiple: Double?

    @Option(help: "The most one adjustment of the noise schedule multiplies or divides the batch by (default 2).")
    var batchFactor: Double?

    @Option(help: "The noise schedule's smallest global batch (default and at least: twice the rank count, 2 with --reproducible).")
    var minBatch: Int?

    @Option(help: "The noise schedule's largest global batch (default: the training rows).")
    var maxBatch: Int?

    @Option(help: "Passes over the training set (default: the preset's).")
    var epochs: Int?

    @Option(help: "Seed of the initial weights and the shuffles.")
    var seed: UInt64 = 0

    @Option(help: "Evaluate the loss each time this many more examples have been seen.")
    var evalEvery: Int = 200

    @Option(help: "Evaluate every N steps instead of by examples (finer steps to a target: each evaluation walks the --eval-rows).")
    var evalEverySteps: Int?

    @Option(help: ArgumentHelp(
        "Evaluate the training loss on a fixed sample of N training rows, drawn once from --seed (the same rows at any rank count); the summary's final_loss stays over every row (default: every row up to 65536, else a 65536-row sample).",
        valueName: "N"))
    var evalRows: Int?

    @Option(help: "Write a JSON Lines run log to this file (rank 0); a resumed run appends to it.")
    var log: String?

    @Flag(help: "Let a new run replace a --log file that already holds records (refused otherwise).")
    var overwrite = false

    @Option(help: ArgumentHelp(
        "Train nothing: say whether this run log was written by a run of these options (where outputs go aside).",
        discussion: "Prints 'same run' (exit 0) or the first difference (exit 1); sweeps use it to skip only their own runs.",
        valueName: "log"))
    var sameRunAs: String?

    @Option(help: "Write the full training state to this file (rank 0, atomically) every --checkpoint-every steps.")
    var checkpoint: String?

    @Option(help: "Steps between checkpoints.")
    var checkpointEvery: Int = 0

    @Option(help: "Continue from this checkpoint (same data, batch, optimizer and seed; the same or more epochs, any rank count); 'auto': from --checkpoint's file if it exists, else start fresh (a checkpoint named auto: ./auto).")
    var resume: String?

    @Option(help: "End the job when a collective has not completed for this many seconds.")
    var stallTimeout: Double = TrainingConfiguration.defaultStallTimeout

    @Option(help: "USR1, or TERM to make SIGTERM graceful too. A graceful signal (SIGUSR1 always) stops every rank at the next step boundary: checkpoint, an 'end' record 'preempted', exit 75.")
    var gracefulSignal: GracefulSignal = .usr1

    @Option(help: "Seconds a graceful stop may take before the job is ended as by SIGTERM (a second signal ends it at once).")
    var graceSeconds: Double = 60

    @Option(help: ArgumentHelp(
        "The memory the ranks of one host may use, e.g. 64G (default: the host's MemAvailable).",
        discussion: "A run whose estimated need per rank times its ranks on a host exceeds it is refused before loading.",
        valueName: "size"))
    var maxMemory: String?

    @Option(help: "Estimate the gradient noise scale from each step's allreduce (trace_sigma, grad_sq, noise_scale in every eval record): on or off.")
    var noiseScale: Switch = .on

    @Option(help: "The per-step decay of the noise scale's moving averages.")
    var noiseScaleDecay: Double = 0.99

    @Flag(help: "Bit-identical results at any rank count: one sample order over all rows, one kernel for all ranks, row-invariant products, integer gradient sums (about twice the default step; docs/batch-size.md).")
    var reproducible = false

    @Flag(help: "Print no progress, only the summary.")
    var quiet = false

    @Option(help: "Progress on stderr: auto (live on a terminal, a line every 3 s otherwise), always, never.")
    var progress: ProgressMode = .auto

    /// The run these options ask for, before it meets MPI and the data.
    func trainingConfiguration() throws -> TrainingConfiguration {
        let pairs = try hyperparameters.map { text -> (String, Double) in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Double(parts[1]) else {
                throw JobFailure(.usage, "--hp '\(text)' is not name=number")
            }
            return (parts[0], value)
        }
        let settings = try OptimizerSettings.resolve(
            kind: optimizer, hyperparameters: pairs, learningRateFlag: lr, presetLearningRate: preset.learningRate)
        let milestoneEpochs = try (milestones ?? "").split(separator: ",").map { text -> Int in
            guard let epoch = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw JobFailure(.usage, "--milestones '\(milestones ?? "")' is not a comma-separated list of epochs")
            }
            return epoch
        }
        var configuration = TrainingConfiguration(
            dataPath: DataLocation.resolve(flag: data), preset: preset, rows: rows, optimizer: settings,
            schedule: LearningRateSchedule(
                kind: schedule, factor: scheduleFactor, milestones: milestoneEpochs, minimum: minLr,
                warmupSteps: warmupSteps),
            scaleLR: scaleLr, baseBatch: baseBatch, maxLR: maxLr,
            globalBatch: globalBatch, epochs: epochs, seed: seed, evalEvery: evalEvery, logPath: log,
            progress: progress)
        configuration.model = try modelOptions.specification()
        configuration.validationRows = valRows
        configuration.evalEverySteps = evalEverySteps
        configuration.evalRows = evalRows
        configuration.saveModelPath = saveModel
        configuration.timelinePath = timeline
        configuration.timelineSteps = timelineSteps
        configuration.warmupEpochs = warmupEpochs
        configuration.checkpointPath = checkpoint
        configuration.checkpointEvery = checkpointEvery
        configuration.resumePath = resume
        configuration.overwriteLog = overwrite
        configuration.stallTimeout = stallTimeout
        configuration.noiseScaleDecay = noiseScale == .on ? noiseScaleDecay : nil
        configuration.reproducible = reproducible ? true : nil
        configuration.batchSchedule = try batchScheduleSettings()
        // A ramp starts at its first batch: without --global-batch, that one rather than the preset's.
        if let schedule = configuration.batchSchedule, schedule.kind == .warmup, globalBatch == nil {
            configuration.globalBatch = schedule.start
        }
        return configuration
    }

    /// `--batch-schedule` with its options; the noise rule's options are refused with another schedule.
    private func batchScheduleSettings() throws -> BatchSchedule? {
        let schedule = try BatchSchedule.parse(batchSchedule)
        let noiseOptions: [(Setting, Bool)] = [
            (.batchMultiple, batchMultiple != nil), (.batchFactor, batchFactor != nil), (.minimumBatch, minBatch != nil),
            (.maximumBatch, maxBatch != nil),
        ]
        if schedule?.kind != .noise, let (setting, _) = noiseOptions.first(where: \.1) {
            throw JobFailure(.usage, "\(setting) applies to \(Setting.batchSchedule) noise only")
        }
        guard var schedule else {
            if batchEvery != nil { throw JobFailure(.usage, "\(Setting.batchEvery) needs a \(Setting.batchSchedule)") }
            return nil
        }
        schedule.every = batchEvery ?? schedule.every
        if schedule.kind == .noise {
            schedule.multiple = batchMultiple ?? schedule.multiple
            schedule.factor = batchFactor ?? schedule.factor
            schedule.minimum = minBatch
            schedule.maximum = maxBatch
        }
        return schedule
    }

    func validate() throws {
        guard graceSeconds > 0 && graceSeconds.isFinite else {
            throw ValidationError("--grace-seconds must be a positive number of seconds (got \(graceSeconds))")
        }
    }

    func run() throws {
        let configuration = try trainingConfiguration()
        let memoryLimit = try MemoryBudget.limit(option: maxMemory)
        if let log = sameRunAs {
            if let difference = try RunIdentity.difference(configuration, logAt: log) {
                Console.out("differs: \(difference)")
                Foundation.exit(1)
            }
            Console.out("same run")
            return
        }
        // The watchdog starts before MPI_Init and stops after MPI_Finalize: a rank that never arrives at any
        // collective, these two included, ends the job after --stall-timeout instead of hanging it.
        // A bad --stall-timeout is refused with the other options, after MPI_Init: the watchdog meanwhile keeps the
        // default, never the bad value.
        let monitor = JobMonitor(
            rank: Communicator.launcherRank ?? 0,
            stallTimeout: configuration.stallTimeoutProblem == nil
                ? configuration.stallTimeout : TrainingConfiguration.defaultStallTimeout,
            gracefulSignals: gracefulSignal == .term ? [SIGUSR1, SIGTERM] : [SIGUSR1], graceSeconds: graceSeconds)
        let communicator = try monitor.watch(.initialize) { try Communicator.initialize() }
        monitor.identify(rank: communicator.rank, size: communicator.size)
        do {
            try TrainingJob.run(
                configuration, collective: communicator, versions: BuildInfo.versions, quiet: quiet, monitor: monitor,
                memoryLimit: memoryLimit)
        } catch let failure as JobFailure where failure.reported {
            // The job is over: mpirun's SIGTERM to ranks still exiting is tidying up, not an interrupt.
            monitor.finishTraining()
            monitor.watch(.finalize) { communicator.finalize() }
            throw failure
        } catch {
            // A failure only this rank may have seen: the others could be waiting in a collective.
            monitor.finishTraining()
            let failure = error as? JobFailure ?? JobFailure(.runtime, "\(error)")
            Console.error(failure.message, rank: communicator.rank, size: communicator.size)
            communicator.abort(code: failure.exitCode)
        }
        monitor.watch(.finalize) { communicator.finalize() }
        monitor.finish()
    }
}
