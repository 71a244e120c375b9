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

/// `airfoil-dp bench allreduce`: the raw collective's latency at the job's rank count.
struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Median latency of an in-place float sum-allreduce (run it under mpirun).",
        discussion: "Sizes: the trainer's gradient buffer (7 floats: 5 weights, bias, count), 1 KiB, 64 KiB, 1 MiB.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Timed calls per size (default 5000; 200 with --quick).")
    var iterations: Int?

    @Option(help: "A buffer size in floats to measure (repeat for several; default: 7, 256, 16384, 262144).")
    var floats: [Int] = []

    func validate() throws {
        if let iterations, iterations <= 0 { throw ValidationError("--iterations must be positive") }
        if floats.contains(where: { $0 <= 0 }) { throw ValidationError("--floats must be positive") }
    }

    func run() throws {
        let communicator = try Communicator.initialize()
        defer { communicator.finalize() }
        let calls = iterations ?? (options.quick ? 200 : 5000)
        let defaultSizes: [(String, Int)] = [
            ("gradient (7 floats)", 7), ("1 KiB", 256), ("64 KiB", 16384), ("1 MiB", 262_144),
        ]
        let sizes = floats.isEmpty ? defaultSizes : floats.map { ("\($0) floats", $0) }
        var rows: [(String, Int, Double)] = []
        for (label, floats) in sizes {
            let count = floats > 100_000 ? max(calls / 10, 20) : calls
            let median = try AllreduceBenchmark.medianSeconds(collective: communicator, floats: floats, iterations: count)
            rows.append((label, floats * 4, median))
        }
        guard communicator.rank == 0 else { return }
        if options.json {
            let object: [String: Any] = [
                "ranks": communicator.size,
                "sizes": rows.map { ["label": $0.0, "bytes": $0.1, "median_us": $0.2 * 1e6] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            Console.out(String(decoding: data, as: UTF8.self))
        } else {
            Console.out("in-place MPI_Allreduce (sum, float) on \(communicator.size) ranks, median of \(calls) calls:")
            for (label, bytes, median) in rows {
                let padded = label.padding(toLength: 20, withPad: " ", startingAt: 0)
                Console.out("  " + padded + String(format: " %9d bytes %12.2f us", bytes, median * 1e6))
            }
        }
    }
}
