import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// `--batch-schedule` under mpirun: the batches the ranks take, their bits at any rank count, and resumes.
    @Suite("Batch schedules under mpirun")
    struct BatchScheduleRunTests {
        static let mlp = ["--data", SharedData.path, "--model", "mlp", "--hidden", "16", "--optimizer", "adam",
                          "--lr", "0.01", "--quiet", "--overwrite"]

        /// Runs and returns the log's records.
        private func run(_ arguments: [String], ranks: Int, log: String) throws -> [[String: Any]] {
            let result = try Launcher.run(arguments + ["--log", log], ranks: ranks)
            try #require(result.status == 0, "\(arguments) at \(ranks) ranks: \(result.standardError)")
            return try RunLogReader.records(at: log)
        }

        private func evals(_ records: [[String: Any]]) -> [[String: Any]] {
            records.filter { $0["type"] as? String == "eval" }
        }

        @Test("noise at 3 ranks: every batch a multiple of 3, it grows, every epoch uses every row, one model")
        func noiseScheduleAtThreeRanks() throws {
            let folder = try SharedData.temporaryDirectory()
            let records = try run(Self.mlp + ["--global-batch", "6", "--epochs", "6", "--batch-schedule", "noise",
                                              "--batch-every", "5", "--eval-every", "1500"],
                                  ranks: 3, log: folder.appendingPathComponent("run.jsonl").path)
            let config = try #require(records.first?["config"] as? [String: Any])
            #expect(config["global_batch"] as? Int == 6)
            #expect((config["batch_schedule"] as? [String: Any])?["kind"] as? String == "noise")
            let batches = evals(records).compactMap { $0["global_batch"] as? Int }
            #expect(batches.count == evals(records).count)
            #expect(batches.allSatisfy { $0 % 3 == 0 && $0 >= 6 }, "\(batches)")
            #expect(batches.max()! > 6, "\(batches)")
            let summary = try #require(records.last)
            #expect(summary["examples"] as? Int == 6 * 1500)
            #expect(summary["replicas_identical"] as? Bool == true)
            // An evaluation every 1500 examples falls on each epoch's last step, which ends at the epoch's last row.
            let examples = evals(records).compactMap { $0["examples"] as? Int }
            #expect(examples == [0, 1500, 3000, 4500, 6000, 7500, 9000], "\(examples)")
        }

        @Test("--reproducible noise with AdaScale: the same bits and batches at 1 and 3 ranks, and resumed at 2")
        func reproducibleNoiseSchedule() throws {
            let folder = try SharedData.temporaryDirectory()
            let arguments = Self.mlp + ["--global-batch", "8", "--batch-schedule", "noise", "--batch-every", "5",
                                        "--scale-lr", "adascale", "--base-batch", "8", "--reproducible"]
            func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
            let one = try run(arguments + ["--epochs", "4"], ranks: 1, log: path("one.jsonl"))
            let three = try run(arguments + ["--epochs", "4"], ranks: 3, log: path("three.jsonl"))
            let digest = { (records: [[String: Any]]) in records.last?["params_digest"] as? String }
            let batches = { (records: [[String: Any]]) in self.evals(records).compactMap { $0["global_batch"] as? Int } }
            let rates = { (records: [[String: Any]]) in self.evals(records).compactMap { $0["lr"] as? Double } }
            #expect(digest(one) != nil && digest(one) == digest(three))
            #expect(batches(one) == batches(three) && Set(batches(one)).count > 2, "\(batches(one))")
            // AdaScale's gain moves the rate above the base rate once the batch is above the base batch.
            #expect(rates(one) == rates(three) && rates(one).max()! > 0.01, "\(rates(one))")
            let checkpoint = path("run.ckpt")
            _ = try run(arguments + ["--epochs", "2", "--checkpoint", checkpoint, "--checkpoint-every", "7"], ranks: 1,
                        log: path("first.jsonl"))
            let resumed = try run(arguments + ["--epochs", "4", "--resume", checkpoint], ranks: 2,
                                  log: path("resumed.jsonl"))
            #expect(digest(resumed) == digest(one), "the resumed run's parameters")
            #expect(batches(resumed).suffix(3) == batches(one).suffix(3))
        }

        @Test("a noise run begun at batch 4 on 2 ranks resumes on 3: its batch refitted to multiples of 3, at least 6")
        func resumeAtMoreRanks() throws {
            let folder = try SharedData.temporaryDirectory()
            func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
            let arguments = Self.mlp + ["--global-batch", "4", "--batch-schedule", "noise", "--batch-every", "3"]
            let checkpoint = path("run.ckpt")
            _ = try run(arguments + ["--epochs", "1", "--checkpoint", checkpoint, "--checkpoint-every", "13"],
                        ranks: 2, log: path("run.jsonl"))
            let refused = try Launcher.run(arguments + ["--epochs", "2"], ranks: 3)
            #expect(refused.status == 64 && refused.standardError.contains("at least 6"), "\(refused.standardError)")
            let resumed = try run(arguments + ["--epochs", "2", "--resume", checkpoint], ranks: 3, log: path("run.jsonl"))
            let resumeRecord = try #require(resumed.lastIndex { $0["type"] as? String == "resume" })
            let afterResume = evals(Array(resumed[resumeRecord...])).compactMap { $0["global_batch"] as? Int }
            #expect(!afterResume.isEmpty && afterResume.allSatisfy { $0 % 3 == 0 && $0 >= 6 }, "\(afterResume)")
            #expect(resumed.last?["examples"] as? Int == 3000 && resumed.last?["replicas_identical"] as? Bool == true)
        }

        @Test("warmup and noise with a cosine rate, resumed, end with the uninterrupted run's parameters", arguments: [
                  ["--batch-schedule", "warmup:4:40:60", "--scale-lr", "linear", "--base-batch", "4", "--lr", "0.002"],
                  ["--global-batch", "4", "--batch-schedule", "noise", "--batch-every", "3", "--max-batch", "64",
                   "--scale-lr", "adascale", "--base-batch", "4"],
              ])
        func resumeKeepsTheSchedule(arguments: [String]) throws {
            let folder = try SharedData.temporaryDirectory()
            func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
            // The cosine schedule reads the rate clock: a resume that lost it would take other rates.
            let arguments = Self.mlp + arguments + ["--schedule", "cosine", "--min-lr", "0.0001", "--epochs", "3"]
            let checkpoint = path("run.ckpt")
            let whole = try run(arguments + ["--checkpoint", checkpoint, "--checkpoint-every", "13"], ranks: 2,
                                log: path("whole.jsonl"))
            let resumed = try run(arguments + ["--resume", checkpoint], ranks: 2, log: path("resumed.jsonl"))
            let digest = { (records: [[String: Any]]) in records.last?["params_digest"] as? String }
            #expect(digest(whole) != nil && digest(resumed) == digest(whole), "\(arguments)")
            let resumedAt = try #require(resumed.first { $0["type"] as? String == "resume" }?["step"] as? Int)
            let steps = try #require(whole.last?["steps"] as? Int)
            #expect(resumedAt < steps && resumedAt % 13 == 0, "resumed at \(resumedAt) of \(steps)")
            let batches = evals(whole).compactMap { $0["global_batch"] as? Int }
            #expect(batches.allSatisfy { $0 % 2 == 0 } && Set(batches).count > 2, "\(batches)")
            #expect(batches.max()! <= (arguments.contains("noise") ? 64 : 40), "\(batches)")
        }
    }
}
