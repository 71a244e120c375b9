import Optimization
import Models
import Data
import Common
import ArgumentParser
import Benchmarks
import Foundation
import MPI
import Training

/// `airfoil-dp bench step`: the trainer's step time against the raw allreduce, in one job.
struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Median training step against the median raw allreduce at global batch P, 10 P and 100 P.",
        discussion: """
            Runs the real trainer (evaluation only before and after) at global batch = ranks, 10 x ranks and \
            min(100 x ranks, rows), then allreduces the same 7-float buffer as many times, in the same job. \
            Heap allocations per step: scripts/bench-allocations.sh.
            """)

    @OptionGroup var options: BenchOptions

    @Option(help: "The data file (default: $AIRFOIL_DP_DATA, else data/airfoil_self_noise.dat).")
    var data: String?

    @Option(help: "Steps timed per batch size (default 3000; 300 with --quick).")
    var steps: Int?

    func run() throws {
        let communicator = try Communicator.initialize()
        // The sgd preset's learning rate is stable at every batch size; the step's cost does not depend on it.
        let configuration = TrainingConfiguration(
            dataPath: DataLocation.resolve(flag: data), preset: .sgd, progress: .never)
        do {
            let shard = try TrainingShard.load(path: configuration.dataPath, requestedRows: nil, collective: communicator)
            let ranks = communicator.size
            let batches = [ranks, 10 * ranks, min(100 * ranks, shard.trainingRows)].filter { $0 <= shard.trainingRows }
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
                    ] as [String: Any]
                },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            Console.out(String(decoding: data, as: UTF8.self))
            return
        }
        Console.out("training step on \(ranks) ranks (rank 0; medians of whole steps, means of their parts):")
        Console.out("  global batch   steps   step us   compute us   allreduce us   raw allreduce us   step/raw")
        for result in results {
            Console.out(String(
                format: "  %12d %7d %9.3f %12.3f %14.3f %18.3f %10.2f", result.globalBatch, result.steps,
                result.medianStepSeconds * 1e6, result.computeSeconds * 1e6, result.allreduceSeconds * 1e6,
                result.rawAllreduceSeconds * 1e6, result.ratio))
        }
    }
}
