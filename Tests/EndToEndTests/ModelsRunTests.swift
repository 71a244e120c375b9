import Common
import Formats
import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// The MLP, synthetic data, byte-range reading, held-out rows and saved models, through the real binary.
    @Suite("Models and data under mpirun")
    struct ModelsRunTests {
        let data = SharedData.path

        /// Runs `airfoil-dp train` with a log and returns its records.
        private func train(_ arguments: [String], ranks: Int?, timeout: Double = 180) throws -> [[String: Any]] {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let result = try Launcher.run(["--quiet", "--log", log] + arguments, ranks: ranks, timeout: timeout)
            try #require(result.status == 0, "\(arguments) at \(ranks ?? 1) ranks: \(result.standardError)")
            return try RunLogReader.records(at: log)
        }

        @Test("the README's MLP (5-64-64-1 ReLU, Adam, lr 0.003, batch 100, 100 epochs) ends at or below 0.04",
              arguments: [1, 4, 16])
        func mlpReachesItsGoal(ranks: Int) throws {
            let records = try train(["--data", data, "--model", "mlp", "--optimizer", "adam", "--lr", "0.003",
                                     "--global-batch", "100", "--epochs", "100"], ranks: ranks, timeout: 300)
            let summary = try #require(records.last)
            let loss = try #require(summary["final_loss"] as? Double)
            #expect(loss <= 0.04, "\(ranks) ranks: \(loss)")
            #expect(summary["params"] == nil, "the MLP's summary names its parameter count, not 4609 numbers")
            #expect(summary["param_count"] as? Int == 4609)
            #expect((summary["params_digest"] as? String)?.count == 40)
            let model = (records[0]["config"] as? [String: Any])?["model"] as? [String: Any]
            #expect(model?["kind"] as? String == "mlp" && model?["hidden"] as? [Int] == [64, 64])
        }

        @Test("synthetic data is the same at 1, 3 and 4 ranks: the loss before training agrees to 1e-9")
        func syntheticIsRankCountInvariant() throws {
            let spec = "synthetic:rows=3000,features=6,noise=0.2,seed=5"
            var first: [Double] = []
            for ranks in [1, 3, 4] {
                let records = try train(["--data", spec, "--model", "mlp", "--hidden", "16", "--global-batch", "60",
                                         "--epochs", "1", "--optimizer", "adam", "--lr", "0.01"], ranks: ranks)
                let header = records[0]
                let generator = (header["data"] as? [String: Any])?["synthetic"] as? [String: Any]
                #expect(generator?["version"] as? Int == 1 && generator?["rows"] as? Int == 3000)
                #expect((header["data"] as? [String: Any])?["training_rows"] as? Int == 3000)
                first.append(try #require(records[1]["loss"] as? Double))
            }
            #expect(first.allSatisfy { abs($0 - first[0]) <= 1e-9 * first[0] }, "\(first)")
            // Noise 0.2: the best loss after standardisation is about 0.04 / (2 * 1.04); the loss starts well above.
            #expect(first[0] > 0.1)
        }

        @Test("a data file is read by byte ranges: each of 4 ranks reads at most 0.35 of it, and the data agree")
        func byteRangeReading() throws {
            let folder = try SharedData.temporaryDirectory()
            let path = folder.appendingPathComponent("big.tsv").path
            var random = TestRandom(state: 3)
            var text = ""
            let rows = 60_000
            for _ in 0..<rows {
                let x = (0..<4).map { _ in random.float() }
                let y = x[0] * 2 - x[1] + 0.5 * x[2] * x[3] + 0.1 * random.float()
                text += (x + [y]).map { String(format: "%.6f", $0) }.joined(separator: "\t") + "\n"
            }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let size = Double(text.utf8.count)
            var losses: [Double] = []
            for ranks in [1, 4] {
                let records = try train(["--data", path, "--rows", "\(rows)", "--global-batch", "600", "--epochs", "1",
                                         "--lr", "0.1"], ranks: ranks)
                let bytes = try #require(records[0]["bytes_read"] as? [Int])
                #expect(bytes.count == ranks)
                #expect(bytes.allSatisfy { Double($0) <= (ranks == 1 ? 1.01 : 0.35) * size }, "\(bytes) of \(size)")
                losses.append(try #require(records[1]["loss"] as? Double))
            }
            #expect(abs(losses[1] - losses[0]) <= 1e-9 * losses[0], "\(losses)")
        }

        @Test("a bad row late in the file is named by its own line number at 4 ranks")
        func globalLineNumbers() throws {
            let folder = try SharedData.temporaryDirectory()
            let path = folder.appendingPathComponent("bad.dat").path
            var lines = String(decoding: SharedData.bytes, as: UTF8.self).components(separatedBy: "\r\n")
            lines[1399] = "1\t2\tnope\t4\t5\t6"
            try lines.joined(separator: "\r\n").write(toFile: path, atomically: true, encoding: .utf8)
            let result = try Launcher.run(["--data", path, "--quiet"], ranks: 4, timeout: 30)
            #expect(result.status == 65)
            #expect(result.standardError.contains("line 1400: column 3: 'nope' is not a number"), "\(result.standardError)")
            let errorLines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("airfoil-dp:") }
            #expect(errorLines.count == 1, "\(result.standardError)")
        }

        @Test("--val-rows puts val_loss in every eval record and the summary")
        func heldOutRows() throws {
            let records = try train(["--data", data, "--rows", "1400", "--val-rows", "100", "--preset", "minibatch100"],
                                    ranks: 4)
            let evals = records.filter { $0["type"] as? String == "eval" }
            #expect(evals.count > 2 && evals.allSatisfy { $0["val_loss"] is Double })
            #expect(records.last?["val_loss"] is Double)
            #expect((records[0]["data"] as? [String: Any])?["validation_rows"] as? Int == 100)
            let refused = try Launcher.run(["--data", data, "--val-rows", "4"], ranks: 1, timeout: 30)
            #expect(refused.status == 64, "1500 + 4 rows do not fit the 1503: \(refused.standardError)")
        }

        @Test("--timeline writes one Chrome trace: a process per rank, every kind of span, bounded by --timeline-steps")
        func timeline() throws {
            let folder = try SharedData.temporaryDirectory()
            let trace = folder.appendingPathComponent("trace.json").path
            _ = try train(["--data", data, "--model", "mlp", "--epochs", "2", "--timeline", trace, "--timeline-steps", "12",
                           "--checkpoint", folder.appendingPathComponent("c.ckpt").path, "--checkpoint-every", "5"],
                          ranks: 2)
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trace)))
            let events = try #require((object as? [String: Any])?["traceEvents"] as? [[String: Any]])
            let spans = events.filter { $0["ph"] as? String == "X" }
            #expect(Set(events.filter { $0["name"] as? String == "process_name" }.compactMap { $0["pid"] as? Int }) == [0, 1])
            for kind in ["load", "gather", "gradient", "allreduce", "update", "evaluation", "checkpoint"] {
                #expect(spans.contains { $0["name"] as? String == kind }, "no \(kind) span")
            }
            for rank in [0, 1] {
                let gradients = spans.filter { $0["pid"] as? Int == rank && $0["name"] as? String == "gradient" }
                #expect(gradients.count == 12, "rank \(rank): \(gradients.count) gradient spans for 12 steps")
            }
            #expect(spans.allSatisfy { ($0["ts"] as? Double ?? -1) >= 0 && ($0["dur"] as? Double ?? -1) >= 0 })
            if (try? Launcher.runCommand(["/usr/bin/python3", "-c", "import matplotlib"], timeout: 60))?.status == 0 {
                let plot = try Launcher.runCommand(["bash", "scripts/plot-runs", "--timeline", trace, "--steps", "5"],
                                                   timeout: 120, directory: ScriptTests.repository.path)
                #expect(plot.status == 0, "\(plot.standardError)")
                #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("timeline.png").path))
            }
        }

        @Test("a saved model predicts the training run's final loss; bad model files are refused")
        func saveAndPredict() throws {
            let folder = try SharedData.temporaryDirectory()
            let model = folder.appendingPathComponent("m.model").path
            let records = try train(["--data", data, "--model", "mlp", "--hidden", "32", "--activation", "tanh",
                                     "--optimizer", "adam", "--lr", "0.01", "--epochs", "3", "--save-model", model],
                                    ranks: 4)
            let finalLoss = try #require(records.last?["final_loss"] as? Double)
            #expect(records.last?["model_file"] as? String == model)
            let output = folder.appendingPathComponent("predictions.txt").path
            let predicted = try Launcher.run(["predict", model, "--data", data, "--output", output])
            try #require(predicted.status == 0, "\(predicted.standardError)")
            let loss = try #require(Double(predicted.standardOutput.dropFirst("loss: ".count)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(abs(loss - finalLoss) <= 1e-6 * finalLoss, "\(loss) against \(finalLoss)")
            let predictions = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            #expect(predictions.count == 1500)
            #expect(predictions.compactMap { Double($0) }.allSatisfy { (90...150).contains($0) }, "decibels")

            var damaged = [UInt8](FileManager.default.contents(atPath: model) ?? Data())
            damaged.removeLast(10)
            try Data(damaged).write(to: URL(fileURLWithPath: model + ".cut"))
            let cut = try Launcher.run(["predict", model + ".cut", "--data", data])
            #expect(cut.status == 65 && cut.standardError.contains("checksum"), "\(cut.standardError)")
            let missing = try Launcher.run(["predict", model + ".none", "--data", data])
            #expect(missing.status == 66)
            let mismatch = try Launcher.run(["predict", model, "--data", "synthetic:rows=10", "--rows", "5"])
            #expect(mismatch.status == 65 && mismatch.standardError.contains("features"), "\(mismatch.standardError)")
        }

        @Test("predict ends with 65, not a loss that is not a number, for a model file whose values overflow")
        func nonFiniteResultsAreErrors() throws {
            let folder = try SharedData.temporaryDirectory()
            let model = folder.appendingPathComponent("m.model").path
            _ = try train(["--data", data, "--epochs", "1", "--save-model", model], ranks: 1)
            let bytes = try #require(FileManager.default.contents(atPath: model))
            let payload = bytes[(bytes.firstIndex(of: UInt8(ascii: "\n"))! + 1)...]
            let original = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
            /// The model file with `field` set to `value` everywhere, its digest recomputed (as anyone can).
            func edited(_ field: String, _ value: Any) throws -> String {
                var object = original
                if let values = object[field] as? [Any] {
                    object[field] = values.map { _ in value }
                } else {
                    object[field] = value
                }
                let json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                let path = folder.appendingPathComponent("\(field).model").path
                let file = DigestedFile(kind: "model", version: ModelFile.formatVersion).encode([UInt8](json))
                try Data(file).write(to: URL(fileURLWithPath: path))
                return path
            }
            for (field, value, says) in [("parameters", 3e38, "gives a loss that is not a number"),
                                         ("means", 1e308, "gives values beyond a float's range"),
                                         ("standard_deviations", 1e-300, "gives values beyond a float's range")] {
                let path = try edited(field, value)
                let output = folder.appendingPathComponent("\(field).txt").path
                let result = try Launcher.run(["predict", path, "--data", data, "--output", output])
                #expect(result.status == 65, "\(field): \(result.standardOutput) \(result.standardError)")
                #expect(result.standardError.contains(says), "\(field): \(result.standardError)")
                #expect(!result.standardOutput.contains("loss:"), "\(field): \(result.standardOutput)")
                #expect(!FileManager.default.fileExists(atPath: output), "\(field): predictions written")
            }
            let rows = try Launcher.run(["predict", try edited("training_rows", 1_000_000_000_000_000_000), "--data", data])
            #expect(rows.status == 64)
            #expect(rows.standardError.contains("field 'training_rows' 1000000000000000000 is larger than the 1503 rows"),
                    "\(rows.standardError)")
        }
    }
}
