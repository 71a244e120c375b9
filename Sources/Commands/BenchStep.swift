import ArgumentParser
import Benchmarks
import Common
import Data
import Formats
import Foundation
import MPI
import Models
import Optimization
import Training

/// `airfoil-dp bench step`: the trainer's step time against the raw allreduce, in one job.
struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Median training step against the median raw allreduce of the same gradient buffer.",
        discussion: """
            Runs the real trainer (evaluation only before and after) at global batch = ranks, 10 x ranks and \
            min(100 x ranks, rows) (or the --global-batch values), with the model and optimizer given, then \
            allreduces a buffer of the same size (the parameters, the noise scale's two sums and the row count's \
            \(RowCountDigits.slots) digits) as many times, in the same job; then times the trainer again with --reproducible (its \
            median step over the default's) and with the gradient noise scale's estimate off (--noise-scale off: \
            what the estimate adds to the median step). \
            Heap allocations per step: scripts/bench-allocations.sh.
            """)

    @OptionGroup var options: BenchOptions

    @Option(help: "The data file (default: $AIRFOIL_DP_DATA, else data/airfoil_self_noise.dat).")
    var data: String?

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "The update rule (its cost is part of the step).")
    var optimizer: OptimizerKind = .sgd

    @Option(help: "A global batch to time (repeat for several; default: P, 10 P and 100 P for P ranks).")
    var globalBatch: [Int] = []

    @Option(help: "Steps timed per batch size (default 3000; 300 with --quick).")
    var steps: Int?

    func run() throws {
        let communicator = try Communicator.initialize()
        // The sgd preset's learning rate is stable at every batch size; the step's cost does not depend on it.
        var configuration = TrainingConfiguration(
            dataPath: DataLocation.resolve(flag: data), preset: .sgd,
            optimizer: OptimizerSettings.defaults(for: optimizer), progress: .never)
        configuration.model = try modelOptions.specification()
        if let problem = configuration.model.problems.first { throw JobFailure(.usage, problem) }
        if globalBatch.contains(where: { $0 < communicator.size }) {
            throw JobFailure(.usage, "--global-batch must be at least the \(communicator.size) ranks")
        }
        do {
            let shard = try TrainingShard.load(path: configuration.dataPath, requestedRows: nil, collective: communicator)
            let ranks = communicator.size
            let defaults = [ranks, 10 * ranks, min(100 * ranks, shard.trainingRows)]
            let batches = (globalBatch.isEmpty ? defaults : globalBatch).filter { $0 <= shard.trainingRows }
            let results = try StepBenchmark.measure(
                collective: communicator, shard: shard, configuration: configuration,
                batches: Array(Set(batches)).sorted(), steps: steps ?? (options.quick ? 300 : 3000))
            if communicator.rank == 0 { report(results, ranks: ranks) }
        } catch let failure as JobFailure where failure.reported {
            communicator.finalize()
            throw failure
        }
        communicator.finalize()
    }

    private func report(_ results: [StepBenchmark.Result], ranks: Int) {
        if options.json {
            let object: [String: Any] = [
                "ranks": ranks,
                "batches": results.map {
                    [
                        "global_batch": $0.globalBatch, "steps": $0.steps, "median_step_us": $0.medianStepSeconds * 1e6,
                        "compute_us": $0.computeSeconds * 1e6, "allreduce_us": $0.allreduceSeconds * 1e6,
                        "raw_allreduce_us": $0.rawAllreduceSeconds * 1e6, "ratio": $0.ratio,
                        "noise_scale_us": $0.noiseScaleSeconds * 1e6,
                        "reproducible_step_us": $0.medianStepReproducibleSeconds * 1e6,
                        "reproducible_ratio": $0.reproducibleRatio,
                    ] as [String: Any]
                },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            Console.out(String(decoding: data, as: UTF8.self))
            return
        }
        let rankWord = ranks == 1 ? "rank" : "ranks"
        Console.out("training step on \(ranks) \(rankWord) (rank 0; medians of whole steps, means of their parts):")
        Console.out("  global batch   steps   step us   compute us   allreduce us   raw allreduce us   step/raw"
            + "   noise scale us   reproducible us   reproducible/step")
        for result in results {
            Console.out(String(
                format: "  %12d %7d %9.3f %12.3f %14.3f %18.3f %10.2f %16.3f %17.3f %19.1f", result.globalBatch,
                result.steps, result.medianStepSeconds * 1e6, result.computeSeconds * 1e6,
                result.allreduceSeconds * 1e6, result.rawAllreduceSeconds * 1e6, result.ratio,
                result.noiseScaleSeconds * 1e6, result.medianStepReproducibleSeconds * 1e6, result.reproducibleRatio))
        }
    }
}
