import Optimization
import Models
import Data
import Common
import Foundation
import Kernels
import MPI

/// One `airfoil-dp train` job from resolved options to summary, on every rank.
///
/// The order puts cheap checks before expensive work: options against the rank count, then the run log's path
/// (so an unwritable log loses no training), then the data, then the batch against the data. Each check is a
/// collective decision (``Collective/agree(_:)``).
public enum TrainingJob {
    /// Runs the job. Rank 0 prints the summary lines and writes the log; other ranks print nothing.
    ///
    /// - Parameters:
    ///   - versions: software versions for the log header (the MPI library's, for example).
    ///   - quiet: suppresses progress (summary lines are still printed).
    ///   - monitor: the executable's signal handling and stall watchdog (``JobMonitor``), which then watches
    ///     every collective of the job; nil in in-process tests (it changes process-wide signal handling).
    /// - Returns: the summary, on every rank.
    @discardableResult
    public static func run(
        _ requested: TrainingConfiguration, collective: some Collective, versions: [String: String],
        quiet: Bool = false, monitor: JobMonitor? = nil, memoryLimit: Int? = nil
    ) throws -> TrainingSummary {
        if let monitor {
            return try run(requested, collective: WatchedCollective(collective, monitor: monitor), versions: versions,
                           quiet: quiet, watchedBy: monitor, memoryLimit: memoryLimit)
        }
        return try run(requested, collective: collective, versions: versions, quiet: quiet, watchedBy: nil,
                       memoryLimit: memoryLimit)
    }

    private static func run(
        _ requested: TrainingConfiguration, collective: some Collective, versions: [String: String], quiet: Bool,
        watchedBy monitor: JobMonitor?, memoryLimit: Int?
    ) throws -> TrainingSummary {
        let jobStart = MonotonicClock.now()
        let startTime = ISO8601DateFormatter().string(from: Date())
        var configuration = requested
        let isRoot = collective.rank == 0

        let fault = try collective.agree { () -> FaultInjection? in
            if let problem = configuration.problems.first { throw JobFailure(.usage, problem) }
            if let batch = configuration.globalBatch, batch < collective.size, !configuration.isReproducible {
                throw JobFailure(.usage, "--global-batch \(batch) is smaller than the \(collective.size) ranks: "
                    + "every step must give every rank at least one example")
            }
            if collective.size > RowCountDigits.maximumRanks {
                throw JobFailure(.usage, "\(collective.size) ranks are more than the \(RowCountDigits.maximumRanks) "
                    + "whose step row counts airfoil-dp can check exactly")
            }
            return try FaultInjection.fromEnvironment()
        }
        // Rank 0 writes every output: it checks them against the inputs and each other before anything is read.
        try collective.agree {
            guard isRoot else { return }
            try configuration.checkFiles()
            for path in [configuration.checkpointPath, configuration.saveModelPath, configuration.timelinePath] {
                if let path { AtomicFile.removeStaleTemporaries(of: path) }
            }
        }
        let checkpoint = try configuration.resumePath.map { try readCheckpoint($0, collective: collective) }
        let log = try collective.agree { () -> RunLog? in
            guard isRoot, let path = configuration.logPath else { return nil }
            return try RunLog(path: path, continuing: checkpoint != nil, overwrite: configuration.overwriteLog)
        }
        let hosts = try HostRanks.gather(collective)
        let host = hosts.first { $0.ranks.contains(collective.rank) }

        fault?.stopIfDue(.stopLoading, rank: collective.rank)
        let shard = try TrainingShard.load(
            path: configuration.dataPath, requestedRows: configuration.rows,
            validationRows: configuration.validationRows, collective: collective
        ) { shape in
            try MemoryBudget.check(
                bytesEach: MemoryEstimate.trainingRank(configuration, shape: shape), processes: host?.ranks.count ?? 1,
                host: host?.name ?? "?", limit: memoryLimit, what: "this run")
        }
        let rows = shard.trainingRows
        configuration.rows = rows
        let batch = configuration.globalBatch ?? rows
        configuration.globalBatch = batch
        try collective.agree {
            if batch > rows {
                throw JobFailure(.usage, "--global-batch \(batch) is larger than the \(rows) training rows")
            }
            if batch < collective.size && !configuration.isReproducible {
                throw JobFailure(.usage, "the global batch (\(batch), all training rows) is smaller than the "
                    + "\(collective.size) ranks: every step must give every rank at least one example")
            }
            if configuration.isReproducible && batch > ExactSum.safeAdditions {
                throw JobFailure(.usage, "--reproducible sums each step's rows exactly, at most "
                    + "\(ExactSum.safeAdditions) of them; the global batch is \(batch)")
            }
            if configuration.epochs > Int.max / (2 * rows) {
                throw JobFailure(.usage, "--epochs \(configuration.epochs) is too large to count its examples")
            }
            if let warmupEpochs = configuration.warmupEpochs {
                let steps = (warmupEpochs * Double((rows + batch - 1) / batch)).rounded()
                guard steps <= Double(Int.max / 2) else {
                    throw JobFailure(.usage, "--warmup-epochs \(warmupEpochs) is \(steps) steps, too many to count")
                }
                configuration.schedule.warmupSteps = Int(steps)
            }
            configuration.effectiveLearningRate = configuration.scaleLR.scale(
                configuration.learningRate, batch: batch, baseBatch: configuration.baseBatch,
                maximum: configuration.maxLR)
            let rate = configuration.effectiveLearningRate ?? configuration.learningRate
            if configuration.schedule.minimum > rate {
                throw JobFailure(.usage, "--min-lr \(configuration.schedule.minimum) is above the learning rate "
                    + "\(rate)\(configuration.scaleLR == .none ? "" : " (after --scale-lr)"): the schedule would raise it")
            }
            if configuration.saveModelPath != nil, let problem = ModelFile.problems(
                model: configuration.model, features: shard.features, means: shard.means,
                standardDeviations: shard.standardDeviations).first
            {
                throw JobFailure(.invalidData, "data file '\(configuration.dataPath)' makes a model that 'predict' "
                    + "would refuse: its \(problem)")
            }
        }
        let layout = ShardLayout(rows: rows, ranks: collective.size, globalBatch: batch)
        let kernels = configuration.isReproducible ? try commonKernels(collective) : KernelSet.active
        let loadEnd = MonotonicClock.now()
        let loadSeconds = MonotonicClock.seconds(from: jobStart, to: loadEnd)
        let timeline = configuration.timelinePath.map { _ in Timeline(stepLimit: configuration.timelineSteps) }
        timeline?.add(.load, from: jobStart, to: loadEnd, step: 0)

        let data = DataDescription(
            path: shard.source, fileRows: shard.fileRows, trainingRows: rows, features: shard.features,
            validationRows: shard.validationRowsTotal, synthetic: shard.synthetic)
        // Where training continues, decided once after validation: the resume record and the trainer must agree.
        var resumeState: TrainingState?
        var skippedSteps = 0
        var logNeedsHeader = checkpoint == nil
        if let checkpoint {
            logNeedsHeader = try collective.agree {
                if let problem = checkpoint.incompatibility(
                    with: configuration, data: data, means: shard.means, standardDeviations: shard.standardDeviations)
                {
                    throw JobFailure(.usage, "checkpoint '\(configuration.resumePath ?? "")' \(problem)")
                }
                try checkpoint.validate(
                    parameterCount: configuration.model.parameterCount(features: shard.features), layout: layout,
                    source: configuration.resumePath ?? "")
                if let problem = checkpoint.extensionProblem(epochs: configuration.epochs, layout: layout) {
                    throw JobFailure(.usage, "checkpoint '\(configuration.resumePath ?? "")' \(problem)")
                }
                // A log that holds records must be this run's: appending to another's (or to any file) would
                // damage it.
                return try log?.prepareToContinue { header in
                    data.continuationProblem(of: header.data) ?? configuration.continuationProblem(of: header.config)
                } ?? false
            }
            let (state, skipped) = checkpoint.resumePoint(ranks: collective.size, layout: layout)
            resumeState = state
            skippedSteps = skipped
            if skipped > 0 && isRoot {
                Console.err("airfoil-dp: note: the checkpoint was written by \(checkpoint.ranks) ranks mid-epoch "
                    + "(step \(checkpoint.state.stepInEpoch) of \(layout.stepsPerEpoch) in epoch "
                    + "\(checkpoint.state.epoch + 1)); on \(collective.size) ranks the shards differ, so training "
                    + "continues at the start of the next epoch, skipping \(skipped) steps (no row is used twice)\n")
            }
        }
        if logNeedsHeader {
            try log?.append(HeaderRecord(
                config: configuration, ranks: collective.size, hosts: hosts, shardRows: layout.shardSizes,
                data: data, bytesRead: shard.bytesRead,
                paramCount: configuration.model.parameterCount(features: shard.features),
                stepsPerEpoch: layout.stepsPerEpoch, versions: versions, kernel: kernels.name.rawValue,
                startTime: startTime))
        }
        if let checkpoint {
            try log?.append(ResumeRecord(
                checkpoint: configuration.resumePath ?? "", step: checkpoint.state.step,
                examples: checkpoint.state.examples, ranks: collective.size, hosts: hosts, startTime: startTime,
                checkpointRanks: checkpoint.ranks, skippedSteps: skippedSteps > 0 ? skippedSteps : nil))
        }
        let saveCheckpoint: ((TrainingState) throws -> Void)? = isRoot ? configuration.checkpointPath.map { path in
            { [configuration] state in
                try Checkpoint(
                    configuration: configuration, data: data, means: shard.means,
                    standardDeviations: shard.standardDeviations, ranks: collective.size, state: state
                ).write(to: path)
            }
        } : nil
        if let log { monitor?.attach(log: log) }

        let progress = isRoot ? ProgressReporter(mode: configuration.progress, quiet: quiet) : nil
        var hooks = TrainerHooks()
        hooks.log = log
        hooks.progress = progress
        hooks.monitor = monitor
        hooks.jobStart = jobStart
        hooks.loadSeconds = loadSeconds
        hooks.resume = resumeState
        hooks.checkpointEvery = configuration.checkpointEvery
        hooks.saveCheckpoint = saveCheckpoint
        hooks.timeline = timeline
        hooks.fault = fault
        let trainer = Trainer(
            configuration: configuration, shard: shard, layout: layout, collective: collective, kernels: kernels,
            hooks: hooks)
        defer { monitor?.finishTraining() }
        let summary = try trainer.run()

        if let timeline, let path = configuration.timelinePath {
            try timeline.write(to: path, collective: collective, hosts: hosts)
        }
        if isRoot, let path = configuration.saveModelPath {
            try ModelFile(
                model: configuration.model, features: shard.features, parameters: summary.parameters,
                means: shard.means, standardDeviations: shard.standardDeviations, trainingRows: rows,
                data: shard.source
            ).write(to: path)
        }
        try log?.append(SummaryRecord(
            finalLoss: summary.finalLoss, secPerEpoch: summary.secondsPerEpoch,
            examplesPerSec: summary.examplesPerSecond, steps: summary.steps, examples: summary.examples,
            seconds: summary.seconds, params: configuration.model.kind == .linear ? summary.parameters : nil,
            paramCount: summary.parameters.count, paramsDigest: summary.parametersDigest,
            modelFile: configuration.saveModelPath, valLoss: summary.validationLoss, replicasIdentical: summary.replicasIdentical))
        if isRoot {
            Console.out(String(format: "loss: %.3f, ", summary.finalLoss)
                + "\(significant(summary.secondsPerEpoch)) sec/epoch")
            let trainSeconds = summary.seconds.compute + summary.seconds.allreduce
            let share = trainSeconds > 0 ? 100 * summary.seconds.allreduce / trainSeconds : 0
            Console.out(String(
                format: "%.0f examples/s, %d steps on \(collective.size) \(collective.size == 1 ? "rank" : "ranks"), "
                    + "allreduce %.0f%% of training time",
                summary.examplesPerSecond, summary.steps, share))
        }
        return summary
    }

    /// The kernel set every rank can run, for `--reproducible`: the narrowest of the ranks' own choices (their
    /// fastest, or what `AIRFOIL_DP_KERNEL` forces), agreed by one allreduce.
    public static func commonKernels(_ collective: some Collective) throws -> KernelSet {
        // Narrowest first; a CPU that runs one set runs every narrower one.
        let widths: [KernelSet.Name] = [.portable, .avx2, .avx512]
        var level = [Int64(widths.firstIndex(of: KernelSet.active.name)!)]
        try collective.allreduce(&level, .min)
        return KernelSet.named(widths[Int(level[0])])
    }

    /// Reads a checkpoint on rank 0 and gives every rank its contents (one broadcast).
    static func readCheckpoint(_ path: String, collective: some Collective) throws -> Checkpoint {
        var bytes = try collective.agree { () -> [UInt8] in
            guard collective.rank == 0 else { return [] }
            return try InputFile.read(path, what: "checkpoint")
        }
        try collective.broadcast(&bytes, root: 0)
        return try collective.agree { try Checkpoint.decode(bytes, source: path) }
    }

    /// `value` with at least three decimals and three significant digits, never in exponent form.
    static func significant(_ value: Double) -> String {
        guard value > 0, value.isFinite else { return String(format: "%.3f", value) }
        let decimals = min(max(3, 2 - Int(log10(value).rounded(.down))), 9)
        return String(format: "%.\(decimals)f", value)
    }
}
