import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// `--reproducible` through the real binary under mpirun: the same bits at every rank count.
    @Suite("--reproducible under mpirun")
    struct ReproducibleRunTests {
        static let rankCounts = [1, 2, 3, 4, 5, 7, 16]

        /// Every logged loss, noise estimate and the parameters' digest of one run.
        private func fingerprint(_ arguments: [String], ranks: Int) throws -> [String] {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let result = try Launcher.run(["train", "--quiet", "--reproducible", "--log", log] + arguments,
                                          ranks: ranks, timeout: 240)
            try #require(result.status == 0, "\(arguments) at \(ranks) ranks: \(result.standardError)")
            let records = try RunLogReader.records(at: log)
            let evals = records.filter { $0["type"] as? String == "eval" }.map { record in
                ["loss", "val_loss", "noise_scale", "noise_scale_lo", "noise_scale_hi"].map { "\(record[$0] ?? "-")" }.joined(separator: " ")
            }
            return evals + ["\(records.last?["params_digest"] ?? "no digest")"]
        }

        private func expectIdentical(_ arguments: [String]) throws {
            let first = try fingerprint(arguments, ranks: 1)
            #expect(first.count > 3)
            for ranks in Self.rankCounts.dropFirst() {
                let other = try fingerprint(arguments, ranks: ranks)
                let difference = other.indices.first { $0 >= first.count || other[$0] != first[$0] }
                #expect(other == first, "\(ranks) ranks: they first differ at \(String(describing: difference))")
            }
        }

        @Test("the linear model on airfoil: every loss and the parameters are bit-identical at 1 to 16 ranks")
        func linear() throws {
            try expectIdentical(["--data", SharedData.path, "--preset", "minibatch10", "--epochs", "1"])
        }

        @Test("an MLP on synthetic data with held-out rows: bit-identical at 1 to 16 ranks")
        func multilayerPerceptron() throws {
            try expectIdentical(["--data", "synthetic:rows=1200,features=5,noise=0.2,seed=3", "--model", "mlp",
                                 "--hidden", "16", "--optimizer", "adam", "--lr", "0.01", "--global-batch", "40",
                                 "--epochs", "1", "--val-rows", "100", "--eval-every", "400"])
        }

        @Test("a global batch smaller than the ranks is allowed, and matches one rank")
        func batchBelowRanks() throws {
            let arguments = ["--data", SharedData.path, "--global-batch", "2", "--lr", "0.01", "--rows", "200"]
            #expect(try fingerprint(arguments, ranks: 4) == fingerprint(arguments, ranks: 1))
        }

        @Test("a checkpoint written mid-epoch on 1 rank resumes on 3 where it stopped, as if never interrupted")
        func resumeAtAnotherRankCount() throws {
            let folder = try SharedData.temporaryDirectory()
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            let whole = try fingerprint(["--data", SharedData.path, "--preset", "minibatch10"], ranks: 1)
            _ = try fingerprint(["--data", SharedData.path, "--preset", "minibatch10", "--epochs", "1",
                                 "--checkpoint", checkpoint, "--checkpoint-every", "77"], ranks: 1)
            let resumed = try fingerprint(
                ["--data", SharedData.path, "--preset", "minibatch10", "--resume", checkpoint], ranks: 3)
            #expect(resumed.last == whole.last, "the parameters")
            #expect(Array(whole.dropLast().suffix(resumed.count - 1)) == Array(resumed.dropLast()),
                    "the losses logged after the checkpoint")
        }

        @Test("ranks agree on the narrowest kernel: one rank forced to portable makes the job portable, bit for bit")
        func commonKernel() throws {
            let folder = try SharedData.temporaryDirectory()
            let arguments = ["train", "--quiet", "--reproducible", "--data", SharedData.path, "--model", "mlp",
                             "--hidden", "8", "--global-batch", "50", "--epochs", "1", "--rows", "300"]
            func log(_ name: String) -> String { folder.appendingPathComponent(name).path }
            // Two programs in one job (MPMD): the second rank alone is forced to the portable set.
            let forced = ["-np", "1", "-x", "AIRFOIL_DP_KERNEL=portable", Launcher.binary]
            let mixed = try Launcher.runCommand(
                ["mpirun", "-np", "1"] + Launcher.mpirunOptions(ranks: 2) + [Launcher.binary] + arguments
                    + ["--log", log("mixed.jsonl"), ":"] + forced + arguments + ["--log", log("mixed.jsonl")])
            try #require(mixed.status == 0, "\(mixed.standardError)")
            let portable = try Launcher.run(arguments + ["--log", log("portable.jsonl")],
                                            environment: ["AIRFOIL_DP_KERNEL": "portable"])
            try #require(portable.status == 0, "\(portable.standardError)")
            let mixedRecords = try RunLogReader.records(at: log("mixed.jsonl"))
            let portableRecords = try RunLogReader.records(at: log("portable.jsonl"))
            #expect(mixedRecords.first?["kernel"] as? String == "portable")
            #expect(mixedRecords.last?["params_digest"] as? String == portableRecords.last?["params_digest"] as? String)
        }
    }
}
