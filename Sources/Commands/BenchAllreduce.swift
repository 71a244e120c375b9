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
        discussion: """
            Sizes: the trainer's gradient buffer (7 floats: 5 weights, bias, count), 1 KiB, 64 KiB, 1 MiB. \
            --network-profile FILE measures a ladder of sizes (4 to 4^10 floats) and writes them as a network \
            profile for 'compare --predict --network FILE': run it with the launcher, rank count and placement \
            the training jobs will use. Exit codes: \(JobFailure.exitCodeHelp([.usage, .output, .runtime])).
            """)

    @OptionGroup var options: BenchOptions

    @Option(help: "Timed calls per size (default 5000; 200 with --quick).")
    var iterations: Int?

    @Option(help: "A buffer size in floats to measure (repeat for several; default: 7, 256, 16384, 262144).")
    var floats: [Int] = []

    @Option(help: ArgumentHelp(
        "Write the medians as a network profile for 'compare --network' (2 ranks or more).", valueName: "file"))
    var networkProfile: String?

    func validate() throws {
        if let iterations, iterations <= 0 { throw ValidationError("--iterations must be positive") }
        if floats.contains(where: { $0 <= 0 }) { throw ValidationError("--floats must be positive") }
    }

    /// The profile's sizes: powers of four from 4 floats to 4 MiB, around any model's gradient.
    static let profileFloats = (1...10).map { 1 << (2 * $0) }

    func run() throws {
        let communicator = try Communicator.initialize()
        defer { communicator.finalize() }
        try communicator.agree {
            guard let networkProfile else { return }
            guard communicator.size >= 2 else {
                throw JobFailure(.usage, "--network-profile needs 2 ranks or more (run it under mpirun)")
            }
            if communicator.rank == 0 {
                _ = try OutputPaths.check(inputs: [], outputs: [("--network-profile", networkProfile, .replaced)])
                AtomicFile.removeStaleTemporaries(of: networkProfile)
            }
        }
        let calls = iterations ?? (options.quick ? 200 : 5000)
        let defaultSizes: [(String, Int)] = [
            ("gradient (7 floats)", 7), ("1 KiB", 256), ("64 KiB", 16384), ("1 MiB", 262_144),
        ]
        let ladder = networkProfile == nil ? defaultSizes : Self.profileFloats.map { ("\($0) floats", $0) }
        let sizes = floats.isEmpty ? ladder : floats.sorted().map { ("\($0) floats", $0) }
        var rows: [(String, Int, Double)] = []
        for (label, floats) in sizes {
            let count = floats > 100_000 ? max(calls / 10, 20) : calls
            let median = try AllreduceBenchmark.medianSeconds(collective: communicator, floats: floats, iterations: count)
            rows.append((label, floats * 4, median))
        }
        let hosts = try HostRanks.gather(communicator).count
        try communicator.agree {
            guard communicator.rank == 0, let networkProfile else { return }
            try NetworkProfile(
                ranks: communicator.size, hosts: hosts,
                sizes: Dictionary(rows.map { ($0.1, $0.2) }, uniquingKeysWith: { first, _ in first })
                    .sorted { $0.key < $1.key }.map { NetworkProfile.Size(bytes: $0.key, medianSeconds: $0.value) },
                machine: CPUInfo.modelName, mpi: Communicator.libraryVersion,
                measuredAt: ISO8601DateFormatter().string(from: Date())
            ).write(to: networkProfile)
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
