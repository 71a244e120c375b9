import Checksums
import Common
import Data
import Foundation
import Models
import Optimization

/// The records of a run log, one JSON object per line, keys as ``JSONFormat`` writes them.
///
/// A log is a `header`, then `eval` records, then a `summary` (a complete run) or an `end` record (a run that
/// stopped early). ``RunLogSchema/version`` changes whenever a key changes meaning.
public enum RunLogSchema {
    /// The schema version written in every header.
    public static let version = 1
}

/// The distinct hosts of a job, with the ranks on each.
public struct HostRanks: Codable, Equatable, Sendable {
    /// The host name.
    public var name: String
    /// The ranks running on it.
    public var ranks: [Int]

    public init(name: String, ranks: [Int]) {
        self.name = name
        self.ranks = ranks
    }
}

/// What the data file was and how it was split.
public struct DataDescription: Codable, Equatable, Sendable {
    /// The file read.
    public var path: String
    /// Its data rows.
    public var fileRows: Int
    /// The leading rows trained on.
    public var trainingRows: Int
    /// Feature columns (the target not counted).
    public var features: Int
    /// Held-out rows after the training rows (`--val-rows`).
    public var validationRows: Int
    /// The generator's settings and version, for synthetic data (a changed generator never passes for the same
    /// data).
    public var synthetic: SyntheticData?
    /// The binary data format read (`binary-float64`, `binary-float32`: ``BinaryDataHeader``); absent for text and
    /// synthetic data. Not compared when a run continues another: a binary file trains to the bits of its text.
    public var format: String?
    /// The training rows each evaluation walks, when they are a sample (``TrainingConfiguration/evalRows``);
    /// absent when evaluations walk every training row.
    public var evalRows: Int?

    /// Creates a description.
    public init(path: String, fileRows: Int, trainingRows: Int, features: Int, validationRows: Int = 0,
                synthetic: SyntheticData? = nil, format: String? = nil, evalRows: Int? = nil) {
        self.path = path
        self.fileRows = fileRows
        self.trainingRows = trainingRows
        self.features = features
        self.validationRows = validationRows
        self.synthetic = synthetic
        self.format = format
        self.evalRows = evalRows
    }
}

extension DataDescription {
    /// Why a run on this data cannot continue a run on `earlier`'s, as a phrase that follows "was written", or nil.
    /// Row counts, features and the evaluation sample's size are compared; the path may differ (data moved between
    /// nodes).
    public func continuationProblem(of earlier: DataDescription) -> String? {
        if fileRows != earlier.fileRows || trainingRows != earlier.trainingRows {
            return "was written for other data (\(earlier.fileRows) file rows, \(earlier.trainingRows) training rows)"
        }
        if features != earlier.features { return "was written for a model with \(earlier.features) features" }
        if evalRows != earlier.evalRows {
            // Its losses, the loss before training (the divergence threshold) included, are over other rows.
            return "was written with evaluations on \(earlier.evalRows.map { "a sample of \($0) rows" } ?? "every row"), "
                + "not \(evalRows.map { "a sample of \($0)" } ?? "every row") (\(Setting.evalRows))"
        }
        return nil
    }
}

/// The first record: what ran, where, and with what.
public struct HeaderRecord: Codable, Sendable {
    public var type = "header"
    public var schema = RunLogSchema.version
    public var config: TrainingConfiguration
    public var ranks: Int
    public var hosts: [HostRanks]
    public var shardRows: [Int]
    public var data: DataDescription
    /// Bytes each rank read from the data file, re-reads included (zeros for synthetic data).
    public var bytesRead: [Int]
    /// Parameters of the model.
    public var paramCount: Int
    public var stepsPerEpoch: Int
    public var versions: [String: String]
    /// The GEMM kernel set rank 0 runs (`avx512`, `avx2` or `portable`; `AIRFOIL_DP_KERNEL` forces one).
    public var kernel: String
    public var startTime: String

    /// Creates a record.
    public init(config: TrainingConfiguration, ranks: Int, hosts: [HostRanks], shardRows: [Int],
        data: DataDescription, bytesRead: [Int], paramCount: Int, stepsPerEpoch: Int, versions: [String: String],
        kernel: String, startTime: String) {
        self.config = config
        self.ranks = ranks
        self.hosts = hosts
        self.shardRows = shardRows
        self.data = data
        self.bytesRead = bytesRead
        self.paramCount = paramCount
        self.stepsPerEpoch = stepsPerEpoch
        self.versions = versions
        self.kernel = kernel
        self.startTime = startTime
    }
}

/// One evaluation of the loss over the whole training set.
public struct EvalRecord: Codable, Sendable {
    public var type = "eval"
    /// Steps taken before this evaluation.
    public var step: Int
    /// Epochs done, as a fraction (examples seen / training rows).
    public var epoch: Double
    /// Examples seen across all ranks.
    public var examples: Int
    /// Training seconds so far (evaluation excluded).
    public var trainSeconds: Double
    /// Seconds since the job started (load, training and evaluation).
    public var wallSeconds: Double
    /// Mean squared loss `(y_hat - y)^2 / 2` over the training set.
    public var loss: Double
    /// The learning rate of the last update (after scaling, warmup and schedule).
    public var lr: Double
    /// The same loss over the held-out rows (`--val-rows`); absent without them.
    public var valLoss: Double?
    /// The smoothed gradient noise estimates so far (``GradientNoiseScale``): `tr(Sigma)`, `|G|^2` and their ratio
    /// `B_simple`. Absent with `--noise-scale off` and before a step with a share of 2 rows or more; `noise_scale`
    /// also while the smoothed `|G|^2` is not positive.
    public var traceSigma: Double?
    public var gradSq: Double?
    public var noiseScale: Double?
    /// The 90% interval around `noise_scale` (``GradientNoiseScale/noiseScaleInterval``); absent when `noise_scale`
    /// is, and until two steps have given estimates.
    public var noiseScaleLo: Double?
    public var noiseScaleHi: Double?
    /// The global batch of the last step, in a run whose batch changes (`--batch-schedule`); absent with a fixed
    /// batch (the header's `global_batch`).
    public var globalBatch: Int?

    /// Creates a record.
    public init(step: Int, epoch: Double, examples: Int, trainSeconds: Double, wallSeconds: Double, loss: Double,
        lr: Double, valLoss: Double? = nil, traceSigma: Double? = nil, gradSq: Double? = nil,
        noiseScale: Double? = nil, noiseScaleInterval: (low: Double, high: Double)? = nil, globalBatch: Int? = nil) {
        self.globalBatch = globalBatch
        self.noiseScaleLo = noiseScaleInterval?.low
        self.noiseScaleHi = noiseScaleInterval?.high
        self.step = step
        self.epoch = epoch
        self.examples = examples
        self.trainSeconds = trainSeconds
        self.wallSeconds = wallSeconds
        self.loss = loss
        self.lr = lr
        self.valLoss = valLoss
        self.traceSigma = traceSigma
        self.gradSq = gradSq
        self.noiseScale = noiseScale
    }
}

/// Where the time of a run went, in seconds, on rank 0.
public struct TimeSplit: Codable, Equatable, Sendable {
    /// Training time outside the allreduce: local gradients, updates and the per-epoch shuffles.
    public var compute: Double
    /// Waiting in and doing the gradient allreduce (not timed on one rank, where it is skipped).
    public var allreduce: Double
    /// Evaluating the loss (excluded from training time).
    public var eval: Double
    /// Reading, validating and standardising the data.
    public var load: Double

    /// Creates a record.
    public init(compute: Double, allreduce: Double, eval: Double, load: Double) {
        self.compute = compute
        self.allreduce = allreduce
        self.eval = eval
        self.load = load
    }
}

/// The last record of a complete run.
public struct SummaryRecord: Codable, Sendable {
    public var type = "summary"
    public var finalLoss: Double
    public var secPerEpoch: Double
    public var examplesPerSec: Double
    public var steps: Int
    public var examples: Int
    public var seconds: TimeSplit
    /// The linear model's final weights, then the bias, in shortest round-trip form (they read back bit for bit);
    /// absent for the MLP, whose parameters go to `--save-model`'s file.
    public var params: [Float]?
    /// The number of parameters (absent in logs of airfoil-dp 0.1).
    public var paramCount: Int?
    /// SHA-1 of the final parameters' bits (all layers, the model's order): equal for bit-identical models
    /// (absent in logs of airfoil-dp 0.1).
    public var paramsDigest: String?
    /// The model file written by `--save-model`, if any.
    public var modelFile: String?
    /// The last loss over the held-out rows (`--val-rows`).
    public var valLoss: Double?
    /// The outcome of comparing parameters and optimizer state across ranks at the end (one allreduce of the
    /// min and max of a checksum of their bits). A run where they differ ends with an `end` record whose
    /// `replicas_identical` is false instead, and exit code 70.
    public var replicasIdentical: Bool
    /// What a step-time model needs (absent in logs before airfoil-dp 0.3): rank 0's mean seconds per step in and
    /// out of the allreduce over the steps this process took, the bytes each step's allreduce carries (on one rank,
    /// which skips it, what it would carry: a prediction for more ranks needs it), and the largest per-rank share of the global batch.
    public var stepSeconds: StepSeconds?
    public var allreduceBytes: Int?
    public var perRankBatch: Int?

    /// Creates a record.
    public init(finalLoss: Double, secPerEpoch: Double, examplesPerSec: Double, steps: Int, examples: Int,
        seconds: TimeSplit, params: [Float]? = nil, paramCount: Int? = nil, paramsDigest: String? = nil,
        modelFile: String? = nil, valLoss: Double? = nil, replicasIdentical: Bool, stepSeconds: StepSeconds? = nil,
        allreduceBytes: Int? = nil, perRankBatch: Int? = nil) {
        self.stepSeconds = stepSeconds
        self.allreduceBytes = allreduceBytes
        self.perRankBatch = perRankBatch
        self.finalLoss = finalLoss
        self.secPerEpoch = secPerEpoch
        self.examplesPerSec = examplesPerSec
        self.steps = steps
        self.examples = examples
        self.seconds = seconds
        self.params = params
        self.paramCount = paramCount
        self.paramsDigest = paramsDigest
        self.modelFile = modelFile
        self.valLoss = valLoss
        self.replicasIdentical = replicasIdentical
    }
}

/// Mean seconds per step, outside the allreduce (local gradients, updates, shuffles) and in it (waiting included).
public struct StepSeconds: Codable, Equatable, Sendable {
    public var compute: Double
    public var allreduce: Double

    /// Creates the pair.
    public init(compute: Double, allreduce: Double) {
        self.compute = compute
        self.allreduce = allreduce
    }
}

/// The last record of a run that stopped early.
public struct EndRecord: Codable, Sendable {
    public var type = "end"
    /// Why the run stopped: `diverged`, `interrupted`, `preempted` (a graceful signal: checkpointed, exit 75),
    /// `replicas_differ` (the final comparison of every rank's
    /// parameters and optimizer state failed) or `batch_mismatch` (the ranks' shares of a step did not add up).
    public var reason: String
    /// Steps taken.
    public var step: Int
    /// The last finite evaluated loss (diverged runs).
    public var lastFiniteLoss: Double?
    /// A sentence for people.
    public var message: String
    /// The signal that ended an `interrupted` or `preempted` run (`SIGINT`, `SIGTERM` or `SIGUSR1`).
    public var signal: String?
    /// False when the run ended because the replicas differ; absent otherwise.
    public var replicasIdentical: Bool?

    /// Creates a record.
    public init(reason: String, step: Int, lastFiniteLoss: Double? = nil, message: String, signal: String? = nil,
        replicasIdentical: Bool? = nil) {
        self.reason = reason
        self.step = step
        self.lastFiniteLoss = lastFiniteLoss
        self.message = message
        self.signal = signal
        self.replicasIdentical = replicasIdentical
    }
}

/// Marks where a resumed run continues the log of the run it resumes.
public struct ResumeRecord: Codable, Sendable {
    public var type = "resume"
    /// The checkpoint resumed from.
    public var checkpoint: String
    /// Steps already taken, and the examples seen, when the checkpoint was written.
    public var step: Int
    public var examples: Int
    /// The rank count now (it may differ from the checkpoint's when the global batch is unchanged).
    public var ranks: Int
    public var hosts: [HostRanks]
    public var startTime: String
    /// The rank count that wrote the checkpoint.
    public var checkpointRanks: Int
    /// Steps of the interrupted epoch skipped because the rank count changed mid-epoch (absent when none were):
    /// training continues at step `step + skipped_steps`.
    public var skippedSteps: Int?

    /// Creates a record.
    public init(checkpoint: String, step: Int, examples: Int, ranks: Int, hosts: [HostRanks], startTime: String,
        checkpointRanks: Int, skippedSteps: Int? = nil) {
        self.checkpoint = checkpoint
        self.step = step
        self.examples = examples
        self.ranks = ranks
        self.hosts = hosts
        self.startTime = startTime
        self.checkpointRanks = checkpointRanks
        self.skippedSteps = skippedSteps
    }
}
