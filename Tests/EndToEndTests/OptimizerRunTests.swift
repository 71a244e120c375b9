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
