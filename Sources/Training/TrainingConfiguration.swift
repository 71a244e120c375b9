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
    /// The SGD step size.
    public var learningRate: Double
    /// Examples per step across all ranks; `nil` for all training rows.
    public var globalBatch: Int?
    /// Passes over the training set.
    public var epochs: Int
    /// The seed of the initial weights and of every epoch's order.
    public var seed: UInt64
    /// Evaluate the training loss each time this many more examples have been seen.
    public var evalEvery: Int
    /// The JSON Lines run log to write, if any.
    public var logPath: String?
    /// How progress is shown.
    public var progress: ProgressMode

    /// Creates a configuration from a preset, overriding the values given.
    public init(
        dataPath: String, preset: Preset = .minibatch100, rows: Int? = nil, learningRate: Double? = nil,
        globalBatch: Int? = nil, epochs: Int? = nil, seed: UInt64 = 0, evalEvery: Int = 200,
        logPath: String? = nil, progress: ProgressMode = .auto
    ) {
        self.dataPath = dataPath
        self.rows = rows
        self.preset = preset
        self.learningRate = learningRate ?? preset.learningRate
        self.globalBatch = globalBatch ?? preset.globalBatch
        self.epochs = epochs ?? preset.epochs
        self.seed = seed
        self.evalEvery = evalEvery
        self.logPath = logPath
        self.progress = progress
    }

    /// The problems of the values that can be judged without data or ranks, one line each.
    public var problems: [String] {
        var found: [String] = []
        if !(learningRate.isFinite && learningRate > 0) {
            found.append("--lr must be a positive finite number (got \(learningRate))")
        }
        if epochs <= 0 { found.append("--epochs must be positive (got \(epochs))") }
        if evalEvery <= 0 { found.append("--eval-every must be positive (got \(evalEvery))") }
        if let rows, rows <= 0 { found.append("--rows must be positive (got \(rows))") }
        if let globalBatch, globalBatch <= 0 { found.append("--global-batch must be positive (got \(globalBatch))") }
        return found
    }
}
