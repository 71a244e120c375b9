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
