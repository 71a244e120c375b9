import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// The chapter's optimizer experiments (batch 10, 2 epochs, its published settings) under mpirun.
    @Suite("Optimizers under mpirun")
    struct OptimizerRunTests {
        static let chapterSettings: [[String]] = [
            ["--optimizer", "momentum", "--hp", "learning_rate=0.005", "--hp", "momentum=0.9"],
            ["--optimizer", "adagrad", "--lr", "0.1"],
            ["--optimizer", "rmsprop", "--lr", "0.01", "--hp", "gamma1=0.9"],
            ["--optimizer", "adadelta", "--hp", "rho=0.9"],
            ["--optimizer", "adam", "--lr", "0.01"],
        ]

        @Test("each ends between the least-squares optimum and 0.256 at 1 and 4 ranks, with identical replicas",
              arguments: chapterSettings)
        func chapterSettingsReachTheBand(arguments: [String]) throws {
            let optimum = LeastSquares.optimumLoss(path: SharedData.path)
            for ranks in [1, 4] {
                let folder = try SharedData.temporaryDirectory()
                let log = folder.appendingPathComponent("run.jsonl").path
                let result = try Launcher.run(
                    ["--data", SharedData.path, "--global-batch", "10", "--epochs", "2", "--quiet", "--log", log]
                        + arguments, ranks: ranks)
                try #require(result.status == 0, "\(arguments) at \(ranks) ranks: \(result.standardError)")
                let records = try RunLogReader.records(at: log)
                let loss = try #require(records.last?["final_loss"] as? Double)
                #expect(loss >= optimum && loss <= 0.256, "\(arguments) at \(ranks) ranks: \(loss)")
                #expect(records.last?["replicas_identical"] as? Bool == true)
                let optimizer = (records.first?["config"] as? [String: Any])?["optimizer"] as? [String: Any]
                #expect(optimizer?["kind"] as? String == arguments[1], "the header names the optimizer")
            }
        }

        @Test("LARS and LAMB on the MLP: the loss falls, replicas stay identical at 4 ranks, --reproducible gives one rank's bits at 3, and a resumed checkpoint ends with the uninterrupted run's parameters",
              arguments: [["--optimizer", "lars", "--lr", "0.5", "--hp", "eta=0.05", "--hp", "momentum=0.5"],
                          ["--optimizer", "lamb", "--lr", "0.005", "--hp", "wd=0.01"]])
        func layerwiseRules(arguments: [String]) throws {
            let folder = try SharedData.temporaryDirectory()
            let base = ["--data", SharedData.path, "--model", "mlp", "--hidden", "16,16", "--global-batch", "100",
                        "--quiet", "--overwrite"] + arguments
            func run(_ extra: [String], ranks: Int, name: String) throws -> [[String: Any]] {
                let log = folder.appendingPathComponent(name).path
                let result = try Launcher.run(base + ["--log", log] + extra, ranks: ranks)
                try #require(result.status == 0, "\(arguments) \(extra) at \(ranks) ranks: \(result.standardError)")
                return try RunLogReader.records(at: log)
            }
            let records = try run(["--epochs", "20"], ranks: 4, name: "default.jsonl")
            let losses = records.filter { $0["type"] as? String == "eval" }.compactMap { $0["loss"] as? Double }
            #expect(losses.count > 2 && losses.last! < 0.8 * losses.first!, "\(arguments): \(losses)")
            #expect(records.last?["replicas_identical"] as? Bool == true)
            let optimizer = (records.first?["config"] as? [String: Any])?["optimizer"] as? [String: Any]
            #expect(optimizer?["kind"] as? String == arguments[1])
            #expect((optimizer?["eta"] != nil) == (arguments[1] == "lars"), "eta only in LARS's header")
            let digest = { (records: [[String: Any]]) in records.last?["params_digest"] as? String }
            let one = try run(["--epochs", "4", "--reproducible"], ranks: 1, name: "one.jsonl")
            let three = try run(["--epochs", "4", "--reproducible"], ranks: 3, name: "three.jsonl")
            #expect(digest(one) != nil && digest(one) == digest(three))
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            _ = try run(["--epochs", "2", "--reproducible", "--checkpoint", checkpoint, "--checkpoint-every", "7"],
                        ranks: 1, name: "first.jsonl")
            let resumed = try run(["--epochs", "4", "--reproducible", "--resume", checkpoint], ranks: 3,
                                  name: "resumed.jsonl")
            #expect(digest(resumed) == digest(one), "\(arguments): the resumed run's parameters")
        }

        @Test("linear lr scaling without a cap diverges at batch 1500 from lr 0.4; with --max-lr 0.9 it trains")
        func scaledLearningRateCap() throws {
            let base = ["--data", SharedData.path, "--preset", "gd", "--lr", "0.4", "--scale-lr", "linear", "--quiet"]
            let uncapped = try Launcher.run(base, ranks: 2)
            #expect(uncapped.status == 3, "\(uncapped.standardError)")
            let capped = try Launcher.run(base + ["--max-lr", "0.9"], ranks: 2)
            #expect(capped.status == 0, "\(capped.standardError)")
        }
    }
}
