import Common

extension Setting {
    /// The flag of each setting: the one place where a library's setting meets its command-line spelling (the
    /// flags themselves are declared by the commands' options; a test checks that each appears in their help).
    public var flag: String {
        switch self {
        case .dataPath: "--data"
        case .rows: "--rows"
        case .validationRows: "--val-rows"
        case .model: "--model"
        case .hidden: "--hidden"
        case .learningRate: "--lr"
        case .hyperparameter: "--hp"
        case .schedule: "--schedule"
        case .scheduleFactor: "--schedule-factor"
        case .milestones: "--milestones"
        case .minimumRate: "--min-lr"
        case .warmupSteps: "--warmup-steps"
        case .warmupEpochs: "--warmup-epochs"
        case .scaleRate: "--scale-lr"
        case .baseBatch: "--base-batch"
        case .maximumRate: "--max-lr"
        case .globalBatch: "--global-batch"
        case .batchSchedule: "--batch-schedule"
        case .batchEvery: "--batch-every"
        case .batchMultiple: "--batch-multiple"
        case .batchFactor: "--batch-factor"
        case .minimumBatch: "--min-batch"
        case .maximumBatch: "--max-batch"
        case .epochs: "--epochs"
        case .evalEvery: "--eval-every"
        case .evalEverySteps: "--eval-every-steps"
        case .evalRows: "--eval-rows"
        case .logPath: "--log"
        case .overwriteLog: "--overwrite"
        case .checkpointPath: "--checkpoint"
        case .checkpointEvery: "--checkpoint-every"
        case .resumePath: "--resume"
        case .graceSeconds: "--grace-seconds"
        case .stallTimeout: "--stall-timeout"
        case .noiseScale: "--noise-scale"
        case .noiseScaleDecay: "--noise-scale-decay"
        case .reproducible: "--reproducible"
        case .saveModelPath: "--save-model"
        case .timelinePath: "--timeline"
        case .timelineSteps: "--timeline-steps"
        case .maximumMemory: "--max-memory"
        case .modelFile: "the model file"
        case .predictionsPath: "--output"
        }
    }

    /// Makes messages spell settings as the command line's flags.
    static func spellAsFlags() {
        Setting.spell { $0.flag }
    }
}
