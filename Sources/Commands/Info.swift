import ArgumentParser
import Common
import Data
import Formats
import Foundation
import MPI
import Models
import Optimization
import Training

/// `airfoil-dp info`: what to check before a long job.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the ranks and hosts, the MPI library, the CPU's vector features and the build settings.")

    @Flag(help: "Also read the data and print the training rows and columns a run would use ('rows: N', 'columns: N'), as train counts them from --data, --rows and --val-rows.")
    var shape = false

    @Option(help: ArgumentHelp("(With --shape.) " + DataHelp.data))
    var data: String?

    @Option(help: ArgumentHelp("(With --shape.) " + DataHelp.rows))
    var rows: Int?

    @Option(help: ArgumentHelp("(With --shape.) " + DataHelp.validationRows + "."))
    var valRows: Int = 0

    func validate() throws {
        guard shape || (data == nil && rows == nil && valRows == 0) else {
            throw ValidationError("--data, --rows and --val-rows go with --shape")
        }
    }

    func run() throws {
        // Before MPI starts: a bad data file ends the command with its one line, as it would end a run.
        let dataShape = try shape ? TrainingShard.shape(
            path: DataLocation.resolve(flag: data), requestedRows: rows, validationRows: valRows) : nil
        let communicator = try Communicator.initialize()
        let hosts = try HostRanks.gather(communicator)
        if communicator.rank == 0 {
            Console.out("airfoil-dp \(AirfoilDP.version)")
            Console.out("ranks: \(communicator.size) on \(hosts.count) host(s)")
            for host in hosts { Console.out("  \(host.name): ranks \(RankList.describe(host.ranks))") }
            Console.out("mpi: \(Communicator.libraryVersion) (MPI \(Communicator.standardVersion))")
            Console.out("cpu: \(CPUInfo.modelName) (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
            Console.out("cpu vector features: \(CPUInfo.vectorFeatures.joined(separator: " "))")
            Console.out("kernel: \(BuildInfo.kernel)")
            Console.out("build: \(BuildInfo.settings)")
            if let dataShape {
                Console.out("rows: \(dataShape.trainingRows)")
                Console.out("columns: \(dataShape.columns)")
            }
        }
        communicator.finalize()
    }
}

/// Compact rank lists: `0-3 8`.
enum RankList {
    static func describe(_ ranks: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        while index < ranks.count {
            var end = index
            while end + 1 < ranks.count && ranks[end + 1] == ranks[end] + 1 { end += 1 }
            parts.append(end == index ? "\(ranks[index])" : "\(ranks[index])-\(ranks[end])")
            index = end + 1
        }
        return parts.joined(separator: " ")
    }
}

/// What /proc/cpuinfo says about the processor (empty on systems without it).
enum CPUInfo {
    private static let fields: [String: String] = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [:] }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }()

    static var modelName: String { fields["model name"] ?? "unknown" }

    static var vectorFeatures: [String] {
        let flags = Set((fields["flags"] ?? fields["Features"] ?? "").split(separator: " ").map(String.init))
        let interesting = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl", "avx512_bf16", "neon", "asimd"]
        let present = interesting.filter(flags.contains)
        return present.isEmpty ? ["none detected"] : present
    }
}
