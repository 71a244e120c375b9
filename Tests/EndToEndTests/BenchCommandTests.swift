import Formats
import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// Each benchmark runs once in its quick mode and prints the JSON its readers rely on. Speed is not asserted.
    @Suite("airfoil-dp bench, quick mode")
    struct BenchCommandTests {
        private func json(_ arguments: [String], ranks: Int? = nil) throws -> [String: Any] {
            let result = try Launcher.run(arguments + ["--quick", "--json"], ranks: ranks, timeout: 300,
                                          environment: ["AIRFOIL_DP_DATA": SharedData.path])
            try #require(result.status == 0, "\(arguments): \(result.standardError)")
            let line = try #require(result.standardOutput.split(separator: "\n").last)
            return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }

        @Test("bench gemm: the four methods, a size sweep with the naive loop up to 512, and a measured peak")
        func gemm() throws {
            let object = try json(["bench", "gemm"])
            let methods = (object["methods"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(methods == ["element", "column", "whole", "blocks"])
            let sizes = object["sizes"] as? [[String: Any]] ?? []
            #expect(sizes.compactMap { $0["n"] as? Int } == [64, 128, 256])
            #expect(sizes.allSatisfy { ($0["gflops"] as? Double ?? 0) > 0 && $0["naive_gflops"] != nil })
            #expect((object["peak_gflops"] as? Double ?? 0) > 0)
        }

        @Test("bench allreduce under mpirun: a median for each of the four sizes")
        func allreduce() throws {
            let object = try json(["bench", "allreduce"], ranks: 2)
            #expect(object["ranks"] as? Int == 2)
            let sizes = object["sizes"] as? [[String: Any]] ?? []
            #expect(sizes.compactMap { $0["bytes"] as? Int } == [28, 1024, 65536, 1_048_576])
            #expect(sizes.allSatisfy { ($0["median_us"] as? Double ?? 0) > 0 })
        }

        @Test("bench allreduce --network-profile writes a profile compare can read; one rank or a bad profile is refused")
        func networkProfile() throws {
            let folder = try SharedData.temporaryDirectory()
            let path = folder.appendingPathComponent("network.json").path
            let object = try json(["bench", "allreduce", "--network-profile", path, "--floats", "64", "--floats", "4"],
                                  ranks: 2)
            #expect((object["sizes"] as? [[String: Any]])?.count == 2)
            let bytes = try #require(FileManager.default.contents(atPath: path))
            let profile = try NetworkProfile.decode([UInt8](bytes), source: path)
            #expect(profile.ranks == 2 && profile.hosts == 1 && profile.sizes.map(\.bytes) == [16, 256])
            #expect(profile.sizes.allSatisfy { $0.medianSeconds > 0 })
            let alone = folder.appendingPathComponent("alone.json").path
            let refused = try Launcher.run(["bench", "allreduce", "--network-profile", alone, "--quick"])
            #expect(refused.status == 64 && refused.standardError.contains("needs 2 ranks or more"))
            #expect(!FileManager.default.fileExists(atPath: alone))
            // compare refuses a damaged profile with one line and exit 65.
            var damaged = [UInt8](bytes)
            damaged[damaged.count - 2] ^= 1
            let bad = folder.appendingPathComponent("bad.json").path
            FileManager.default.createFile(atPath: bad, contents: Data(damaged))
            let log = folder.appendingPathComponent("run.jsonl").path
            let run = try Launcher.run(["--data", SharedData.path, "--epochs", "1", "--quiet", "--log", log])
            try #require(run.status == 0, "\(run.standardError)")
            let compare = try Launcher.run(["compare", log, "--predict", "--network", bad])
            #expect(compare.status == 65 && compare.standardError.contains("is damaged"), "\(compare.standardError)")
            #expect(compare.standardError.split(separator: "\n").count == 1)
        }

        @Test("bench step under mpirun: global batches P, 10 P and 100 P with step, parts, raw allreduce and the noise scale's cost")
        func step() throws {
            let object = try json(["bench", "step"], ranks: 2)
            let batches = object["batches"] as? [[String: Any]] ?? []
            #expect(batches.compactMap { $0["global_batch"] as? Int } == [2, 20, 200])
            for key in ["median_step_us", "compute_us", "allreduce_us", "raw_allreduce_us", "ratio", "noise_scale_us",
                        "reproducible_step_us", "reproducible_ratio"] {
                #expect(batches.allSatisfy { $0[key] is Double }, "missing \(key)")
            }
        }
    }
}
