import Commands
import Common
import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// The built binary under `mpirun`, one job at a time (they share the machine's cores), each with a time limit.
    @Suite("airfoil-dp under mpirun")
    struct MPIRunTests {
        static let rankCounts = [1, 2, 4, 16]
        let data = SharedData.path

        /// Trains and returns the final loss from the run log, failing the test if the run fails.
        func finalLoss(_ arguments: [String], ranks: Int) throws -> Double {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let result = try Launcher.run(["--data", data, "--quiet", "--log", log] + arguments, ranks: ranks)
            try #require(result.status == 0, "\(arguments) at \(ranks) ranks: \(result.standardError)")
            #expect(result.standardOutput.hasPrefix("loss: "))
            return try #require(try RunLogReader.finalLoss(at: log))
        }

        @Test("gd reaches the same final loss at 1, 2, 4 and 16 ranks, to 1e-5 relative")
        func fullBatchIsRankCountInvariant() throws {
            let losses = try Self.rankCounts.map { try finalLoss(["--preset", "gd"], ranks: $0) }
            for (ranks, loss) in zip(Self.rankCounts, losses) {
                #expect(abs(loss - losses[0]) <= 1e-5 * losses[0], "\(ranks) ranks: \(loss) against \(losses[0])")
            }
        }

        @Test("every preset, at every rank count its batch allows, ends in the chapter's band above the optimum",
              arguments: ["gd", "sgd", "minibatch100", "minibatch10"])
        func presetsInBand(preset: String) throws {
            let optimum = LeastSquares.optimumLoss(path: data)
            let batch = ["gd": 1500, "sgd": 1, "minibatch100": 100, "minibatch10": 10][preset]!
            for ranks in Self.rankCounts where ranks <= batch {
                let loss = try finalLoss(["--preset", preset], ranks: ranks)
                #expect((0.2416...0.262).contains(loss), "\(preset) at \(ranks) ranks: \(loss)")
                #expect(loss >= optimum, "\(preset) at \(ranks) ranks: \(loss) below the optimum \(optimum)")
            }
        }

        @Test("the median over five seeds of each preset lies within 0.242 to 0.256",
              arguments: ["gd", "sgd", "minibatch100", "minibatch10"])
        func medianOfSeeds(preset: String) throws {
            let ranks = preset == "sgd" ? 1 : 4
            let losses = try (1...5).map { try finalLoss(["--preset", preset, "--seed", "\($0)"], ranks: ranks) }.sorted()
            #expect((0.242...0.256).contains(losses[2]), "\(preset): \(losses)")
        }

        @Test("a stable full-batch run (lr 0.5, 300 epochs, 4 ranks) converges to the least-squares optimum")
        func convergesToOptimum() throws {
            let optimum = LeastSquares.optimumLoss(path: data)
            let loss = try finalLoss(["--preset", "gd", "--lr", "0.5", "--epochs", "300"], ranks: 4)
            #expect(abs(loss - optimum) <= 1e-5 * optimum, "\(loss) against \(optimum)")
        }

        @Test("the 16-rank log holds a header with hosts and shards, evaluations, and a summary")
        func runLogAt16Ranks() throws {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let result = try Launcher.run(["--data", data, "--log", log], ranks: 16)
            try #require(result.status == 0, "\(result.standardError)")
            let records = try RunLogReader.records(at: log)
            let types = records.map { $0["type"] as? String ?? "?" }
            #expect(types.first == "header")
            #expect(types.last == "summary")
            #expect(types.dropFirst().dropLast().allSatisfy { $0 == "eval" } && types.count > 3)
            let header = records[0]
            #expect(header["ranks"] as? Int == 16)
            #expect(["avx512", "avx2", "portable"].contains(header["kernel"] as? String ?? ""), "\(header)")
            let mpi = (header["versions"] as? [String: Any])?["mpi"] as? String ?? ""
            #expect(mpi.hasPrefix("Open MPI") && !mpi.contains("\u{0}"), "the MPI version string: \(mpi.debugDescription)")
            #expect(header["shard_rows"] as? [Int] == Array(repeating: 94, count: 12) + Array(repeating: 93, count: 4))
            let hosts = header["hosts"] as? [[String: Any]] ?? []
            #expect(hosts.flatMap { $0["ranks"] as? [Int] ?? [] }.sorted() == Array(0..<16))
            #expect((records.last?["params"] as? [Any])?.count == 6)
            let lines = result.standardOutput.split(separator: "\n")
            #expect(lines.count == 2, "only rank 0 prints the summary: \(lines)")
            #expect(lines.first?.hasPrefix("loss: ") == true)
        }

        @Test("the binary started without mpirun trains as a single rank")
        func singleton() throws {
            let result = try Launcher.run(["--data", data, "--quiet", "--preset", "minibatch10"])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.contains("steps on 1 rank, "), "\(result.standardOutput)")
        }

        @Test("info --shape prints the training rows and columns a run would use, for a file and synthetic data, and refuses what a run refuses")
        func infoShape() throws {
            let data = SharedData.path
            for (arguments, rows, columns) in [
                (["--data", data], 1500, 6), (["--data", data, "--rows", "1000", "--val-rows", "100"], 1000, 6),
                (["--data", "synthetic:rows=2000,features=3", "--val-rows", "100"], 1900, 4),
            ] {
                let result = try Launcher.run(["info", "--shape"] + arguments)
                #expect(result.status == 0, "\(arguments): \(result.standardError)")
                #expect(result.standardOutput.contains("\nrows: \(rows)\ncolumns: \(columns)\n"),
                        "\(arguments): \(result.standardOutput)")
            }
            let folder = try SharedData.temporaryDirectory()
            let bad = folder.appendingPathComponent("bad.dat").path
            try "1\t2\n3\tx\n".write(toFile: bad, atomically: true, encoding: .utf8)
            for (arguments, status, message) in [
                (["--shape", "--data", bad], Int32(65), "data file '\(bad)' line 2: column 2: 'x' is not a number"),
                (["--shape", "--data", data, "--rows", "5000"], 64, "--rows 5000 is larger than the 1503 rows"),
                (["--rows", "5"], 64, "--data, --rows and --val-rows go with --shape"),
            ] {
                let result = try Launcher.run(["info"] + arguments)
                #expect(result.status == status && result.standardError.contains(message),
                        "\(arguments): \(result.status) \(result.standardError)")
                #expect(!result.standardOutput.contains("rows:"))
            }
        }

        @Test("bad input ends every rank fast, non-zero, with one error line from airfoil-dp",
              arguments: [
                  (["--global-batch", "2"] as [String], Int32(64)),
                  (["--preset", "nope"], Int32(64)),
                  (["--rows", "9999"], Int32(64)),
                  (["--eval-rows", "0"], Int32(64)),
                  (["--log", "/nonexistent/dir/run.jsonl"], Int32(73)),
                  (["--data", "/nonexistent/airfoil.dat"], Int32(66)),
              ])
        func badInputFailsFast(arguments: [String], status: Int32) throws {
            let result = try Launcher.run(["--data", data] + arguments, ranks: 4, timeout: 30)
            #expect(!result.timedOut)
            #expect(result.status == status, "\(result.standardError)")
            // Failing fast is the thing tested: 0.4 to 1.4 s measured here (a 2-core Xeon, 2026-12), 15 leaves room
            // for a loaded CI machine; a hang ends at the 30 s timeout.
            #expect(result.seconds < 15)
            let errorLines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("airfoil-dp:") }
            #expect(errorLines.count == 1, "\(result.standardError)")
        }

        @Test("every setting a message names is spelled as a flag that the commands' help lists")
        func settingsAreSpelledAsFlags() throws {
            let help = try ["train", "predict"].map { try Launcher.run([$0, "--help"]).standardOutput }.joined()
            for setting in Setting.allCases where setting.flag.hasPrefix("--") {
                #expect(help.contains(setting.flag + " ") || help.contains(setting.flag + "\n"),
                        "\(setting) is spelled \(setting.flag), which no help lists")
            }
            let refused = try Launcher.run(["--data", data, "--global-batch", "0"])
            #expect(refused.standardError.contains("--global-batch must be positive"), "\(refused.standardError)")
        }

        @Test("a malformed file fails fast at 4 ranks, naming the line")
        func malformedFile() throws {
            let folder = try SharedData.temporaryDirectory()
            let path = folder.appendingPathComponent("bad.dat").path
            var text = String(decoding: SharedData.bytes, as: UTF8.self)
            text = text.replacingOccurrences(of: "800\t0\t0.3048\t71.3\t0.00266337\t126.201", with: "800\t0\t0.3048\t71.3")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try Launcher.run(["--data", path], ranks: 4, timeout: 30)
            #expect(result.status == 65)
            // Failing fast is the thing tested: about 1 s measured here; 15 leaves room for a loaded machine.
            #expect(result.seconds < 15)
            #expect(result.standardError.contains("line 1: expected 4 columns, found 6")
                    || result.standardError.contains("line 2: expected 4 columns, found 6"), "\(result.standardError)")
        }

        @Test("a diverging run stops every rank at the same step with exit code 3 and an end record")
        func divergence() throws {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let result = try Launcher.run(["--data", data, "--preset", "gd", "--lr", "1", "--epochs", "100",
                                           "--log", log], ranks: 4, timeout: 60)
            #expect(result.status == 3)
            #expect(result.standardError.contains("diverged at step"))
            #expect(try RunLogReader.records(at: log).last?["type"] as? String == "end")
        }
    }
}
