import ArgumentParser
import Foundation
import MPI
import Training

extension Preset: ExpressibleByArgument {}
extension ProgressMode: ExpressibleByArgument {}

/// `airfoil-dp train`: the chapter's linear regression by minibatch SGD, one shard per MPI rank.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the linear model (the default subcommand).",
        discussion: """
            Presets (flags override their values): \
            gd (lr 1, all rows per step, 10 epochs), sgd (lr 0.005, batch 1, 2 epochs), \
            minibatch100 (lr 0.4, batch 100, 2 epochs; the default), minibatch10 (lr 0.05, batch 10, 2 epochs).
            Exit codes: 0 done, 3 diverged, 64 usage, 65 invalid data, 66 missing data, 70 runtime failure, \
            73 output not writable.
            """)

    @Option(help: "The data file (default: $AIRFOIL_DP_DATA, else data/airfoil_self_noise.dat).")
    var data: String?

    @Option(help: "Train on the first N rows (default: 1500, or the whole file if shorter).")
    var rows: Int?

    @Option(help: "The chapter's experiment to start from: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: Preset = .minibatch100

    @Option(help: "Learning rate (default: the preset's).")
    var lr: Double?

    @Option(help: "Examples per step across all ranks (default: the preset's).")
    var globalBatch: Int?

    @Option(help: "Passes over the training set (default: the preset's).")
    var epochs: Int?

    @Option(help: "Seed of the initial weights and the shuffles.")
    var seed: UInt64 = 0

    @Option(help: "Evaluate the loss each time this many more examples have been seen.")
    var evalEvery: Int = 200

    @Option(help: "Write a JSON Lines run log to this file (rank 0).")
    var log: String?

    @Flag(help: "Print no progress, only the summary.")
    var quiet = false

    @Option(help: "Progress on stderr: auto (live on a terminal, a line every 3 s otherwise), always, never.")
    var progress: ProgressMode = .auto

    func run() throws {
        let configuration = TrainingConfiguration(
            dataPath: DataLocation.resolve(flag: data), preset: preset, rows: rows, learningRate: lr,
            globalBatch: globalBatch, epochs: epochs, seed: seed, evalEvery: evalEvery, logPath: log,
            progress: progress)
        let communicator = try Communicator.initialize()
        do {
            try TrainingJob.run(
                configuration, collective: communicator, versions: BuildInfo.versions, quiet: quiet)
        } catch let failure as JobFailure where failure.reported {
            communicator.finalize()
            throw failure
        } catch {
            // A failure only this rank may have seen: the others could be waiting in a collective.
            let failure = error as? JobFailure ?? JobFailure(.runtime, "\(error)")
            Console.error(failure.message, rank: communicator.rank, size: communicator.size)
            communicator.abort(code: failure.exitCode)
        }
        communicator.finalize()
    }
}
