import Common
import Data
import Formats
import Foundation
import Kernels
import MPI
import Models
import Optimization
import Runtime

/// One `airfoil-dp train` job from resolved options to summary, on every rank.
///
/// The order puts cheap checks before expensive work: options against the rank count, then every output against
/// the inputs, then the run log's path (so an unwritable log loses no training), then the data, then the batch
/// against the data. Each check is a collective decision (``Collective/agree(_:)``).
public enum TrainingJob {
    /// Runs the job. Rank 0 prints the summary lines and writes the log; other ranks print nothing.
    ///
    /// - Parameters:
    ///   - versions: software versions for the log header (the MPI library's, for example).
    ///   - quiet: suppresses progress (summary lines are still printed).
    ///   - monitor: the executable's signal handling and stall watchdog (``JobMonitor``), which then watches
    ///     every collective of the job; nil in in-process tests (it changes process-wide signal handling).
    ///   - memoryLimit: the bytes the ranks of one host may use (`--max-memory`); nil for `MemAvailable`.
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
        let fault = try checkOptions(requested, collective: collective)
        let requested = try resolveAutomaticResume(requested, collective: collective)
        try checkFiles(requested, collective: collective)
        let checkpoint = try requested.resumePath.map { try readCheckpoint($0, collective: collective) }
        let log = try collective.agree { () -> RunLog? in
            guard collective.rank == 0, let path = requested.logPath else { return nil }
            return try RunLog(path: path, continuing: checkpoint != nil, overwrite: requested.overwriteLog)
        }
        let hosts = try HostRanks.gather(collective)
        fault?.stopIfDue(.stopLoading, rank: collective.rank)
        let shard = try load(requested, hosts: hosts, memoryLimit: memoryLimit, collective: collective)
        let configuration = try resolve(requested, shard: shard, collective: collective)
        let job = Job(
            configuration: configuration, shard: shard, hosts: hosts, startTime: startTime, versions: versions,
            log: log, layout: ShardLayout(
                rows: shard.trainingRows, ranks: collective.size, globalBatch: configuration.globalBatch!),
            kernels: configuration.isReproducible ? try commonKernels(collective) : KernelSet.active)
        let loadEnd = MonotonicClock.now()
        let resume = try start(job, checkpoint: checkpoint, collective: collective)
        if let log { monitor?.attach(log: log) }
        var hooks = TrainerHooks()
        hooks.log = log
        hooks.progress = collective.rank == 0 ? ProgressReporter(mode: configuration.progress, quiet: quiet) : nil
        hooks.monitor = monitor
        hooks.jobStart = jobStart
        hooks.loadSeconds = MonotonicClock.seconds(from: jobStart, to: loadEnd)
        hooks.resume = resume
        hooks.checkpointEvery = configuration.checkpointEvery
        hooks.saveCheckpoint = checkpointWriter(job, collective: collective)
        hooks.timeline = configuration.timelinePath.map { _ in Timeline(stepLimit: configuration.timelineSteps) }
        hooks.timeline?.add(.load, from: jobStart, to: loadEnd, step: 0)
        hooks.fault = fault
        let trainer = Trainer(
            configuration: configuration, shard: shard, layout: job.layout, collective: collective,
            kernels: job.kernels, hooks: hooks)
        defer { monitor?.finishTraining() }
        let summary = try trainer.run()
        try finish(job, summary: summary, timeline: hooks.timeline, collective: collective)
        return summary
    }

    /// What the steps of a job share once the data is loaded and the configuration resolved.
    private struct Job {
        let configuration: TrainingConfiguration
        let shard: TrainingShard
        let hosts: [HostRanks]
        let startTime: String
        let versions: [String: String]
        let log: RunLog?
        let layout: ShardLayout
        let kernels: KernelSet

        /// The data as the log header and checkpoints describe it.
        var data: DataDescription {
            DataDescription(
                path: shard.source, fileRows: shard.fileRows, trainingRows: shard.trainingRows,
                features: shard.features, validationRows: shard.validationRowsTotal, synthetic: shard.synthetic,
                format: shard.format,
                evalRows: EvaluationSample.size(requested: configuration.evalRows, trainingRows: shard.trainingRows))
        }
    }

    /// The options' problems that need no data, against the rank count; the fault to inject, if any.
    private static func checkOptions(
        _ configuration: TrainingConfiguration, collective: some Collective
    ) throws -> FaultInjection? {
        try collective.agree {
            if let problem = configuration.problems.first { throw JobFailure(.usage, problem) }
            if let batch = configuration.globalBatch, batch < collective.size, !configuration.isReproducible,
               !resumesBatchSchedule(configuration)
            {
                throw JobFailure(.usage, "\(Setting.globalBatch) \(batch) is smaller than the \(collective.size) "
                    + "ranks: every step must give every rank at least one example")
            }
            if collective.size > RowCountDigits.maximumRanks {
                throw JobFailure(.usage, "\(collective.size) ranks are more than the \(RowCountDigits.maximumRanks) "
                    + "whose step row counts airfoil-dp can check exactly")
            }
            return try FaultInjection.fromEnvironment()
        }
    }

    /// Whether the run continues a batch schedule, whose batch then comes from the checkpoint (refitted to this rank
    /// count), not from its first `--global-batch`.
    private static func resumesBatchSchedule(_ configuration: TrainingConfiguration) -> Bool {
        configuration.batchSchedule != nil && configuration.resumePath != nil
    }

    /// Rank 0 writes every output: it checks them against the inputs and each other before anything is read, and
    /// removes the temporary files a killed job left beside them.
    private static func checkFiles(_ configuration: TrainingConfiguration, collective: some Collective) throws {
        try collective.agree {
            guard collective.rank == 0 else { return }
            try configuration.checkFiles()
            for path in [configuration.checkpointPath, configuration.saveModelPath, configuration.timelinePath] {
                if let path { AtomicFile.removeStaleTemporaries(of: path) }
            }
        }
    }

    /// This rank's shard, once every rank's estimated memory fits its host (``MemoryEstimate``).
    private static func load(
        _ configuration: TrainingConfiguration, hosts: [HostRanks], memoryLimit: Int?, collective: some Collective
    ) throws -> TrainingShard {
        let host = hosts.first { $0.ranks.contains(collective.rank) }
        return try TrainingShard.load(
            path: configuration.dataPath, requestedRows: configuration.rows,
            validationRows: configuration.validationRows, collective: collective
        ) { shape in
            try MemoryBudget.check(
                bytesEach: MemoryEstimate.trainingRank(configuration, shape: shape), processes: host?.ranks.count ?? 1,
                host: host?.name ?? "?", limit: memoryLimit, what: "this run")
        }
    }

    /// The configuration with what the data decides (rows, the global batch, warmup steps, the scaled rate),
    /// checked against the data.
    private static func resolve(
        _ requested: TrainingConfiguration, shard: TrainingShard, collective: some Collective
    ) throws -> TrainingConfiguration {
        var configuration = requested
        let rows = shard.trainingRows
        let batch = configuration.globalBatch ?? configuration.batchSchedule?.start ?? rows
        configuration.rows = rows
        configuration.globalBatch = batch
        try collective.agree {
            if batch > rows {
                throw JobFailure(.usage, "\(Setting.globalBatch) \(batch) is larger than the \(rows) training rows")
            }
            if batch < collective.size && !configuration.isReproducible
                && !resumesBatchSchedule(configuration)
            {
                throw JobFailure(.usage, "the global batch (\(batch), all training rows) is smaller than the "
                    + "\(collective.size) ranks: every step must give every rank at least one example")
            }
            if configuration.isReproducible && batch > ExactSum.safeAdditions {
                throw JobFailure(.usage, "\(Setting.reproducible) sums each step's rows exactly, at most "
                    + "\(ExactSum.safeAdditions) of them; the global batch is \(batch)")
            }
            if let problem = batchScheduleProblem(configuration, rows: rows, ranks: collective.size) {
                throw JobFailure(.usage, problem)
            }
            if configuration.epochs > Int.max / (2 * rows) {
                throw JobFailure(.usage, "\(Setting.epochs) \(configuration.epochs) is too large to count its examples")
            }
            try resolveRate(&configuration)
            if configuration.saveModelPath != nil, let problem = ModelFile.problems(
                model: configuration.model, features: shard.features, means: shard.means,
                standardDeviations: shard.standardDeviations).first
            {
                throw JobFailure(.invalidData, "data file '\(configuration.dataPath)' makes a model that 'predict' "
                    + "would refuse: its \(problem)")
            }
        }
        return configuration
    }

    /// Why the batch schedule's batches do not fit the data and the ranks, if they do not: the schedule's largest
    /// batch is at most the training rows and the first batch lies within `--min-batch` ... `--max-batch` and, for
    /// a run that starts (not one resumed, whose batch the checkpoint gives), measures the noise scale.
    private static func batchScheduleProblem(_ configuration: TrainingConfiguration, rows: Int, ranks: Int) -> String? {
        guard let schedule = configuration.batchSchedule, let batch = configuration.globalBatch else { return nil }
        switch schedule.kind {
        case .warmup:
            if let end = schedule.end, end > rows {
                return "\(Setting.batchSchedule) warmup's last batch \(end) is larger than the \(rows) training rows"
            }
        case .noise:
            if let maximum = schedule.maximum, maximum > rows {
                return "\(Setting.maximumBatch) \(maximum) is larger than the \(rows) training rows"
            }
            if let maximum = schedule.maximum, batch > maximum {
                return "\(Setting.globalBatch) \(batch) is above \(Setting.maximumBatch) \(maximum)"
            }
            if let minimum = schedule.minimum, batch < minimum {
                return "\(Setting.globalBatch) \(batch) is below \(Setting.minimumBatch) \(minimum)"
            }
            // The noise scale needs two rows of every rank's share (two of the batch with --reproducible).
            let smallest = 2 * configuration.batchGranularity(ranks: ranks)
            let reason = configuration.isReproducible ? "two examples of the batch" : "two examples on each of the \(ranks) ranks"
            if batch < smallest && configuration.resumePath == nil {
                return "\(Setting.batchSchedule) noise needs a first batch of at least \(smallest) to measure the noise "
                    + "scale (\(reason)); \(Setting.globalBatch) is \(batch)"
            }
            if let maximum = schedule.maximum, maximum < smallest {
                return "\(Setting.maximumBatch) \(maximum) is below \(smallest), the noise scale's \(reason)"
            }
        }
        return nil
    }

    /// Warmup epochs as steps and the rate scaled to the global batch, checked against the schedule's floor. With
    /// a learning-rate clock (``TrainingConfiguration/hasRateClock``) the schedule counts steps of the base batch.
    private static func resolveRate(_ configuration: inout TrainingConfiguration) throws {
        let rows = configuration.rows!
        let batch = configuration.globalBatch!
        if let warmupEpochs = configuration.warmupEpochs {
            let stepBatch = configuration.hasRateClock ? configuration.baseBatch : batch
            let steps = (warmupEpochs * Double((rows + stepBatch - 1) / stepBatch)).rounded()
            guard steps <= Double(Int.max / 2) else {
                throw JobFailure(.usage, "\(Setting.warmupEpochs) \(warmupEpochs) is \(steps) steps, too many to count")
            }
            configuration.schedule.warmupSteps = Int(steps)
        }
        configuration.effectiveLearningRate = configuration.scaleLR.scale(
            configuration.learningRate, batch: batch, baseBatch: configuration.baseBatch, maximum: configuration.maxLR)
        let rate = configuration.effectiveLearningRate ?? configuration.learningRate
        if configuration.schedule.minimum > rate {
            throw JobFailure(.usage, "\(Setting.minimumRate) \(configuration.schedule.minimum) is above the learning "
                + "rate \(rate)\(configuration.scaleLR == .none ? "" : " (after \(Setting.scaleRate))"): the "
                + "schedule would raise it")
        }
    }

    /// Where training starts (nil: from the beginning) and the log's first records: a header for a new run or a new
    /// log, then, for a resumed run, a `resume` record. A checkpoint and a log that holds records must fit the run.
    private static func start(
        _ job: Job, checkpoint: Checkpoint?, collective: some Collective
    ) throws -> TrainingState? {
        let configuration = job.configuration
        let data = job.data
        var resume: (state: TrainingState, skippedSteps: Int, skippedExamples: Int)?
        var logNeedsHeader = true
        if let checkpoint {
            let source = configuration.resumePath ?? ""
            logNeedsHeader = try collective.agree {
                if let problem = checkpoint.incompatibility(
                    with: configuration, data: data, means: job.shard.means,
                    standardDeviations: job.shard.standardDeviations)
                {
                    throw JobFailure(.usage, "checkpoint '\(source)' \(problem)")
                }
                try checkpoint.validate(
                    parameterCount: configuration.model.parameterCount(features: job.shard.features),
                    layout: job.layout, source: source)
                if let problem = checkpoint.extensionProblem(epochs: configuration.epochs, layout: job.layout) {
                    throw JobFailure(.usage, "checkpoint '\(source)' \(problem)")
                }
                // A log that holds records must be this run's: appending to another's (or any file) would damage it.
                return try job.log?.prepareToContinue { header in
                    data.continuationProblem(of: header.data) ?? configuration.continuationProblem(of: header.config)
                } ?? false
            }
            resume = checkpoint.resumePoint(ranks: collective.size, layout: job.layout)
            if let resume, resume.skippedExamples > 0 && collective.rank == 0 {
                let skipped = resume.skippedSteps > 0 ? "\(resume.skippedSteps) steps" : "\(resume.skippedExamples) examples"
                let stepInEpoch = configuration.batchSchedule == nil
                    ? "step \(checkpoint.state.stepInEpoch) of \(job.layout.stepsPerEpoch)"
                    : "example \(checkpoint.state.examples - checkpoint.state.epoch * job.layout.rows) of \(job.layout.rows)"
                Console.err("airfoil-dp: note: the checkpoint was written by \(checkpoint.ranks) ranks mid-epoch "
                    + "(\(stepInEpoch) in epoch \(checkpoint.state.epoch + 1)); on \(collective.size) ranks the shards "
                    + "differ, so training continues at the start of the next epoch, skipping \(skipped) (no row is "
                    + "used twice)\n")
            }
        }
        if logNeedsHeader {
            try job.log?.append(HeaderRecord(
                config: configuration, ranks: collective.size, hosts: job.hosts, shardRows: job.layout.shardSizes,
                data: data, bytesRead: job.shard.bytesRead,
                paramCount: configuration.model.parameterCount(features: job.shard.features),
                stepsPerEpoch: job.layout.stepsPerEpoch, versions: job.versions, kernel: job.kernels.name.rawValue,
                startTime: job.startTime))
        }
        if let checkpoint, let resume {
            try job.log?.append(ResumeRecord(
                checkpoint: configuration.resumePath ?? "", step: checkpoint.state.step,
                examples: checkpoint.state.examples, ranks: collective.size, hosts: job.hosts,
                startTime: job.startTime, checkpointRanks: checkpoint.ranks,
                skippedSteps: resume.skippedSteps > 0 ? resume.skippedSteps : nil))
        }
        return resume?.state
    }

    /// `--resume auto`: resume from the `--checkpoint` file if one is there (rank 0 looks, every rank takes its
    /// answer; a damaged file is then refused as any checkpoint is, never replaced by a fresh start), else start
    /// fresh. A fresh start whose run log already holds this run's header (a job stopped before its first
    /// checkpoint) starts the log over, and says so; a log of another run is refused as usual.
    static func resolveAutomaticResume(
        _ requested: TrainingConfiguration, collective: some Collective
    ) throws -> TrainingConfiguration {
        guard requested.resumePath == TrainingConfiguration.automaticResume, let checkpoint = requested.checkpointPath
        else { return requested }
        var resolved = requested
        let found = try collective.agree { () -> Int64 in
            guard collective.rank == 0 else { return 0 }
            var status = stat()
            return lstat(checkpoint, &status) == 0 ? 1 : 0
        }
        resolved.resumePath = try collective.allreduce(found, .max) == 1 ? checkpoint : nil
        guard resolved.resumePath == nil else { return resolved }
        resolved.overwriteLog = try collective.agree { () -> Bool in
            guard collective.rank == 0, let log = requested.logPath else { return requested.overwriteLog }
            var status = stat()
            guard stat(log, &status) == 0, status.st_size > 0, (status.st_mode & S_IFMT) == S_IFREG,
                  (try? RunIdentity.difference(resolved, logAt: log)) == .some(nil)
            else { return requested.overwriteLog }
            Console.err("airfoil-dp: no checkpoint at '\(checkpoint)' yet: starting over, and restarting the run log "
                + "'\(log)', which holds this run's beginning\n")
            return true
        }
        return resolved
    }

    /// Rank 0's writer of `--checkpoint` (nil elsewhere, and without the option).
    private static func checkpointWriter(
        _ job: Job, collective: some Collective
    ) -> ((TrainingState) throws -> Void)? {
        guard collective.rank == 0, let path = job.configuration.checkpointPath else { return nil }
        let data = job.data
        let ranks = collective.size
        return { state in
            try Checkpoint(
                configuration: job.configuration, data: data, means: job.shard.means,
                standardDeviations: job.shard.standardDeviations, ranks: ranks, state: state
            ).write(to: path)
        }
    }

    /// After training: the timeline, the model file, the summary record and rank 0's two summary lines.
    private static func finish(
        _ job: Job, summary: TrainingSummary, timeline: Timeline?, collective: some Collective
    ) throws {
        let configuration = job.configuration
        if let timeline, let path = configuration.timelinePath {
            try timeline.write(to: path, collective: collective, hosts: job.hosts)
        }
        guard collective.rank == 0 else { return }
        if let path = configuration.saveModelPath {
            try ModelFile(
                model: configuration.model, features: job.shard.features, parameters: summary.parameters,
                means: job.shard.means, standardDeviations: job.shard.standardDeviations,
                trainingRows: job.shard.trainingRows, data: job.shard.source
            ).write(to: path)
        }
        try job.log?.append(SummaryRecord(
            finalLoss: summary.finalLoss, secPerEpoch: summary.secondsPerEpoch,
            examplesPerSec: summary.examplesPerSecond, steps: summary.steps, examples: summary.examples,
            seconds: summary.seconds, params: configuration.model.kind == .linear ? summary.parameters : nil,
            paramCount: summary.parameters.count, paramsDigest: summary.parametersDigest,
            modelFile: configuration.saveModelPath, valLoss: summary.validationLoss,
            replicasIdentical: summary.replicasIdentical, stepSeconds: summary.stepSeconds,
            allreduceBytes: allreducedBytes(configuration, parameterCount: summary.parameters.count),
            perRankBatch: (job.layout.globalBatch + collective.size - 1) / collective.size))
        Console.out(String(format: "loss: %.3f, ", summary.finalLoss) + "\(significant(summary.secondsPerEpoch)) sec/epoch")
        let trainSeconds = summary.seconds.compute + summary.seconds.allreduce
        let share = trainSeconds > 0 ? 100 * summary.seconds.allreduce / trainSeconds : 0
        Console.out(String(
            format: "%.0f examples/s, %d steps on \(collective.size) \(collective.size == 1 ? "rank" : "ranks"), "
                + "allreduce %.0f%% of training time",
            summary.examplesPerSecond, summary.steps, share))
    }

    /// The bytes of each step's allreduce: floats in the default mode, Int64 limbs with `--reproducible`.
    static func allreducedBytes(_ configuration: TrainingConfiguration, parameterCount: Int) -> Int {
        configuration.isReproducible
            ? 8 * reproducibleAllreducedValues(
                parameterCount: parameterCount, estimatesNoise: configuration.noiseScaleDecay != nil)
            : 4 * configuration.allreducedFloats(parameterCount: parameterCount)
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
