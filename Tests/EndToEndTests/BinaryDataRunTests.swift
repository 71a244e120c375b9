import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// Binary data files made by `airfoil-dp convert`, read by `train`, `predict` and `info` under mpirun.
    @Suite("binary data files under mpirun")
    struct BinaryDataRunTests {
        /// Converts the airfoil data into `folder`: the float64 and float32 files' paths.
        func convert(in folder: URL) throws -> (float64: String, float32: String) {
            let float64 = folder.appendingPathComponent("airfoil.f64").path
            let float32 = folder.appendingPathComponent("airfoil.f32").path
            for (path, flags) in [(float64, [String]()), (float32, ["--float32"])] {
                let result = try Launcher.run(["convert", SharedData.path, "--out", path] + flags)
                try #require(result.status == 0, "\(result.standardError)")
                #expect(result.standardOutput.contains("rows: 1503\ncolumns: 6\nformat: binary-float"))
            }
            return (float64, float32)
        }

        /// The loss before training, the params_digest and the header's data format of a run on `data`.
        func run(_ data: String, ranks: Int, _ extra: [String], in folder: URL) throws
            -> (initial: Double, digest: String, format: String?)
        {
            let log = folder.appendingPathComponent("run-\(ranks).jsonl").path
            let result = try Launcher.run(
                ["--data", data, "--quiet", "--log", log, "--overwrite", "--epochs", "2", "--rows", "1499", "--val-rows", "4"] + extra,
                ranks: ranks)
            try #require(result.status == 0, "\(data) at \(ranks) ranks: \(result.standardError)")
            let records = try RunLogReader.records(at: log)
            let header = try #require(records.first)
            let initial = try #require(records.first { $0["type"] as? String == "eval" }?["loss"] as? Double)
            let digest = try #require(records.last?["params_digest"] as? String)
            return (initial, digest, (header["data"] as? [String: Any])?["format"] as? String)
        }

        @Test("a converted file, float64 or float32, trains to the text's bits at 1, 3 and 4 ranks")
        func trainsToTheTextsBits() throws {
            let folder = try SharedData.temporaryDirectory()
            let files = try convert(in: folder)
            for (ranks, extra) in [(1, [String]()), (3, ["--reproducible"]), (4, ["--global-batch", "8"])] {
                let text = try run(SharedData.path, ranks: ranks, extra, in: folder)
                #expect(text.format == nil)
                for (path, format) in [(files.float64, "binary-float64"), (files.float32, "binary-float32")] {
                    let binary = try run(path, ranks: ranks, extra, in: folder)
                    #expect(binary.initial.bitPattern == text.initial.bitPattern, "\(format) at \(ranks) ranks")
                    #expect(binary.digest == text.digest, "\(format) at \(ranks) ranks")
                    #expect(binary.format == format)
                }
            }
        }

        @Test("predict reads a float64 file to the text's loss and refuses a float32 one; info --shape reads both")
        func predictAndInfo() throws {
            let folder = try SharedData.temporaryDirectory()
            let files = try convert(in: folder)
            let model = folder.appendingPathComponent("model.json").path
            let trained = try Launcher.run(["--data", SharedData.path, "--quiet", "--save-model", model, "--epochs", "1"])
            try #require(trained.status == 0, "\(trained.standardError)")
            let text = try Launcher.run(["predict", model, "--data", SharedData.path])
            let binary = try Launcher.run(["predict", model, "--data", files.float64])
            #expect(text.status == 0 && binary.status == 0 && binary.standardOutput == text.standardOutput,
                    "\(text.standardOutput) \(binary.standardOutput) \(binary.standardError)")
            let refused = try Launcher.run(["predict", model, "--data", files.float32])
            #expect(refused.status == 65 && refused.standardError.contains("convert the data without --float32"))
            for path in [files.float64, files.float32] {
                let info = try Launcher.run(["info", "--shape", "--data", path, "--rows", "1400", "--val-rows", "100"])
                #expect(info.status == 0 && info.standardOutput.contains("\nrows: 1400\ncolumns: 6\n"), "\(info.standardError)")
            }
        }

        @Test("a damaged block that only one rank reads ends the job on every rank with one line, exit 65")
        func damageEndsEveryRank() throws {
            let folder = try SharedData.temporaryDirectory()
            let path = folder.appendingPathComponent("synthetic.f64").path
            let converted = try Launcher.run(["convert", "synthetic:rows=100000,features=5", "--out", path])
            try #require(converted.status == 0, "\(converted.standardError)")
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count - 100] ^= 0x40  // the last block: only the last rank's rows
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let result = try Launcher.run(["--data", path, "--rows", "100000", "--quiet", "--epochs", "1"], ranks: 4, timeout: 60)
            #expect(result.status == 65, "\(result.status): \(result.standardError)")
            let errors = result.standardError.split(separator: "\n").filter { $0.hasPrefix("airfoil-dp:") && $0.contains("error:") }
            #expect(errors.count == 1 && errors[0].contains("block 4 (rows 87381 to 100000) fails its checksum"), "\(errors)")
        }

        @Test("convert refuses to write over its input")
        func convertKeepsItsInput() throws {
            let folder = try SharedData.temporaryDirectory()
            let copy = folder.appendingPathComponent("copy.dat").path
            try FileManager.default.copyItem(atPath: SharedData.path, toPath: copy)
            let result = try Launcher.run(["convert", copy, "--out", copy])
            #expect(result.status == 64 && result.standardError.contains("an output never replaces an input"))
            #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: SharedData.path))
        }
    }
}
