import Synchronization

/// A setting of a run, as a message names it.
///
/// Libraries write a setting into a message as `\(Setting.globalBatch)`, never as a command-line flag: the command
/// line (the `Commands` module) decides how settings are spelled (`--global-batch`) and installs that spelling when
/// the program starts (``spell(with:)``). Without it, as in the libraries' own tests, a message names the
/// configuration key (`global_batch`), as the run log and checkpoints do.
public enum Setting: String, CaseIterable, Sendable, CustomStringConvertible {
    case dataPath = "data_path"
    case rows
    case validationRows = "validation_rows"
    case model
    case hidden
    case learningRate = "learning_rate"
    case hyperparameter
    case schedule
    case scheduleFactor = "schedule_factor"
    case milestones
    case minimumRate = "min_lr"
    case warmupSteps = "warmup_steps"
    case warmupEpochs = "warmup_epochs"
    case scaleRate = "scale_lr"
    case baseBatch = "base_batch"
    case maximumRate = "max_lr"
    case globalBatch = "global_batch"
    case batchSchedule = "batch_schedule"
    case batchEvery = "batch_every"
    case batchMultiple = "batch_multiple"
    case batchFactor = "batch_factor"
    case minimumBatch = "min_batch"
    case maximumBatch = "max_batch"
    case epochs
    case evalEvery = "eval_every"
    case evalEverySteps = "eval_every_steps"
    case evalRows = "eval_rows"
    case logPath = "log_path"
    case overwriteLog = "overwrite_log"
    case checkpointPath = "checkpoint_path"
    case checkpointEvery = "checkpoint_every"
    case resumePath = "resume_path"
    case stallTimeout = "stall_timeout"
    case graceSeconds = "grace_seconds"
    case noiseScale = "noise_scale"
    case noiseScaleDecay = "noise_scale_decay"
    case reproducible
    case saveModelPath = "save_model_path"
    case timelinePath = "timeline_path"
    case timelineSteps = "timeline_steps"
    case maximumMemory = "max_memory"
    case modelFile = "model_file"
    case predictionsPath = "predictions_path"

    /// Every setting's spelling, computed once when it is set: a lookup allocates nothing, where calling a stored
    /// closure took a reabstraction context each time (libFuzzer saw one per data file opened).
    private static let spelling = Mutex<[Setting: String]>(
        Dictionary(uniqueKeysWithValues: allCases.map { ($0, $0.rawValue) }))

    /// Makes every later message spell settings with `spelling` (the command line's flags).
    public static func spell(with spelling: @Sendable (Setting) -> String) {
        let table = Dictionary(uniqueKeysWithValues: allCases.map { ($0, spelling($0)) })
        self.spelling.withLock { $0 = table }
    }

    /// The setting as messages spell it now.
    public var description: String {
        Self.spelling.withLock { $0[self]! }
    }
}
