import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// `--eval-rows`: periodic evaluations on a fixed sample of the training rows.
    @Suite("evaluation on a sample (--eval-rows) under mpirun")
    struct EvaluationSampleRunTests {
        /// The run's eval records' losses, its summary's final_loss and params_digest, and the header's records of
        /// the sample.
        func run(_ extra: [String], ranks: Int, in folder: URL) throws
            -> (losses: [Double], final: Double, digest: String, configRows: Int?, dataRows: Int?)
        {
            let log = folder.appendingPathComponent("run.jsonl").path
            let result = try Launcher.run(
                ["--data", SharedData.path, "--quiet", "--log", log, "--overwrite", "--epochs", "3"] + extra, ranks: ranks)
            try #require(result.status == 0, "\(extra) at \(ranks) ranks: \(result.standardError)")
            let records = try RunLogReader.records(at: log)
            let header = try #require(records.first)
            return (records.filter { $0["type"] as? String == "eval" }.compactMap { $0["loss"] as? Double },
                    try #require(records.last?["final_loss"] as? Double),
                    try #require(records.last?["params_digest"] as? String),
                    (header["config"] as? [String: Any])?["eval_rows"] as? Int,
                    (header["data"] as? [String: Any])?["eval_rows"] as? Int)
        }

        @Test("the sample is the same rows at 1, 3 and 4 ranks (--reproducible: the same bits), the header says so, and final_loss is over every row")
        func rankInvariant() throws {
            let folder = try SharedData.temporaryDirectory()
            let full = try run(["--reproducible"], ranks: 1, in: folder)
            #expect(full.configRows == nil && full.dataRows == nil)
            let sampled = try [1, 3, 4].map { try run(["--reproducible", "--eval-rows", "200"], ranks: $0, in: folder) }
            for (ranks, run) in zip([1, 3, 4], sampled) {
                #expect(run.losses.map(\.bitPattern) == sampled[0].losses.map(\.bitPattern), "\(ranks) ranks")
                #expect(run.final.bitPattern == full.final.bitPattern && run.digest == full.digest, "\(ranks) ranks")
                #expect(run.configRows == 200 && run.dataRows == 200)
            }
            #expect(sampled[0].losses.count == full.losses.count && sampled[0].losses[0] != full.losses[0])
            // The default mode: the same rows, summed in another order at each rank count.
            let defaults = try [1, 3].map { try run(["--eval-rows", "200"], ranks: $0, in: folder) }
            #expect(abs(defaults[1].losses[0] - defaults[0].losses[0]) <= 1e-12 * defaults[0].losses[0])
            #expect(abs(defaults[0].losses[0] - sampled[0].losses[0]) <= 1e-12 * sampled[0].losses[0])
        }

        @Test("a checkpoint written with one sample is refused by a resume with another")
        func resumeKeepsTheSample() throws {
            let folder = try SharedData.temporaryDirectory()
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            let first = try Launcher.run(["--data", SharedData.path, "--quiet", "--eval-rows", "100", "--epochs", "1",
                                          "--checkpoint", checkpoint, "--checkpoint-every", "5"])
            try #require(first.status == 0, "\(first.standardError)")
            let resumed = try Launcher.run(["--data", SharedData.path, "--quiet", "--eval-rows", "200", "--epochs", "2",
                                            "--resume", checkpoint])
            #expect(resumed.status != 0 && resumed.standardError.contains(
                "was written with evaluations on a sample of 100 rows, not a sample of 200 (--eval-rows)"),
                "\(resumed.status): \(resumed.standardError)")
        }
    }
}
