import Optimization
import Models
import Data
import Common
import Foundation
import MPI
import TestSupport
import Testing
import Training

@Suite("Training in one process (no MPI)")
struct TrainingJobTests {
    @Test("every preset ends within the chapter's band and above the least-squares optimum", arguments: Preset.allCases)
    func presetsReachTheChaptersLoss(preset: Preset) throws {
        let optimum = LeastSquares.optimumLoss(path: SharedData.path)
        #expect(abs(optimum - 0.2417) < 0.0005)
        let summary = try TrainingJob.run(
            TrainingConfiguration(dataPath: SharedData.path, preset: preset, progress: .never),
            collective: SingleProcess(), versions: [:], quiet: true)
        #expect(summary.finalLoss >= optimum)
        #expect((0.2416...0.262).contains(summary.finalLoss))
        let batch = preset.globalBatch ?? 1500
        #expect(summary.steps == preset.epochs * ((1500 + batch - 1) / batch))
    }

    @Test("the same seed and configuration give bit-identical parameters; another seed does not")
    func deterministic() throws {
        func parameters(seed: UInt64) throws -> [Float] {
            try TrainingJob.run(
                TrainingConfiguration(dataPath: SharedData.path, preset: .minibatch10, seed: seed, progress: .never),
                collective: SingleProcess(), versions: [:], quiet: true
            ).parameters
        }
        #expect(try parameters(seed: 4) == parameters(seed: 4))
        #expect(try parameters(seed: 4) != parameters(seed: 5))
    }

    @Test("a new run refuses a log that holds a run unless told to overwrite it; a resumed run appends to it")
    func logIsNeverReplacedSilently() throws {
        let folder = try SharedData.temporaryDirectory()
        var configuration = TrainingConfiguration(
            dataPath: SharedData.path, preset: .minibatch100, epochs: 2,
            logPath: folder.appendingPathComponent("run.jsonl").path, progress: .never)
        configuration.checkpointPath = folder.appendingPathComponent("run.ckpt").path
        configuration.checkpointEvery = 15
        func run(_ configuration: TrainingConfiguration) throws {
            _ = try TrainingJob.run(configuration, collective: SingleProcess(), versions: [:], quiet: true)
        }
        func records() throws -> [String] {
            try String(contentsOfFile: configuration.logPath!, encoding: .utf8).split(separator: "\n").map {
                (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["type"] as! String
            }
        }
        try run(configuration)
        let first = try records()
        #expect(first.first == "header" && first.last == "summary")
        let refusal = #expect(throws: JobFailure.self) { try run(configuration) }
        #expect(refusal?.exitCode == 73)
        #expect(refusal?.message.contains("--overwrite") == true, "\(refusal?.message ?? "")")
        #expect(try records() == first, "the refused run left the log as it was")
        configuration.overwriteLog = true
        try run(configuration)
        #expect(try records() == first, "overwritten: one run's records, not two")
        var resumed = configuration
        resumed.overwriteLog = false
        resumed.epochs = 3
        resumed.resumePath = configuration.checkpointPath
        try run(resumed)
        let continued = try records()
        #expect(continued.starts(with: first) && continued.count > first.count && continued.last == "summary")
    }

    @Test("the run log holds a header, evaluations at each 200 examples, and a summary whose params read back exactly")
    func runLog() throws {
        let folder = try SharedData.temporaryDirectory()
        let logPath = folder.appendingPathComponent("run.jsonl").path
        let summary = try TrainingJob.run(
            TrainingConfiguration(dataPath: SharedData.path, preset: .minibatch100, logPath: logPath, progress: .never),
            collective: SingleProcess(), versions: ["test": "1"], quiet: true)
        let lines = String(decoding: FileManager.default.contents(atPath: logPath)!, as: UTF8.self)
            .split(separator: "\n")
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(records.first?["type"] as? String == "header")
        #expect(records.last?["type"] as? String == "summary")
        let header = records[0]
        #expect(header["ranks"] as? Int == 1)
        #expect(header["shard_rows"] as? [Int] == [1500])
        let config = header["config"] as! [String: Any]
        #expect(config["global_batch"] as? Int == 100)
        #expect(config["rows"] as? Int == 1500)
        for key in ["hosts", "versions", "start_time"] { #expect(header[key] != nil, "header lacks \(key)") }
        let evals = records.filter { $0["type"] as? String == "eval" }
        // Before training, then every 200 examples over 3000 (batches of 100 land on every multiple).
        #expect(evals.map { $0["examples"] as! Int } == Array(stride(from: 0, through: 3000, by: 200)))
        for key in ["step", "epoch", "train_seconds", "wall_seconds", "loss"] { #expect(evals[1][key] != nil) }
        let last = records.last!
        for key in ["final_loss", "sec_per_epoch", "examples_per_sec", "steps", "seconds"] {
            #expect(last[key] != nil, "summary lacks \(key)")
        }
        // Parse the params as text into Float: they must be the trainer's bits.
        let summaryLine = String(lines.last!)
        let paramsText = summaryLine.split(separator: "\"params\":[")[1].split(separator: "]")[0]
        #expect(paramsText.split(separator: ",").map { Float(String($0))! } == summary.parameters)
    }

    @Test("evaluation follows examples seen: with batch 1500 and eval every 200, once per epoch")
    func evaluationCadence() throws {
        let folder = try SharedData.temporaryDirectory()
        let logPath = folder.appendingPathComponent("gd.jsonl").path
        try TrainingJob.run(
            TrainingConfiguration(dataPath: SharedData.path, preset: .gd, epochs: 3, logPath: logPath, progress: .never),
            collective: SingleProcess(), versions: [:], quiet: true)
        let text = String(decoding: FileManager.default.contents(atPath: logPath)!, as: UTF8.self)
        #expect(text.components(separatedBy: "\"type\":\"eval\"").count - 1 == 4)
    }

    @Test("a learning rate that is too large stops the run with a divergence failure and an end record")
    func divergence() throws {
        let folder = try SharedData.temporaryDirectory()
        let logPath = folder.appendingPathComponent("div.jsonl").path
        #expect(throws: JobFailure.self) {
            try TrainingJob.run(
                TrainingConfiguration(dataPath: SharedData.path, preset: .gd, learningRate: 3, logPath: logPath,
                                      progress: .never),
                collective: SingleProcess(), versions: [:], quiet: true)
        }
        do {
            try TrainingJob.run(
                TrainingConfiguration(dataPath: SharedData.path, preset: .gd, learningRate: 3, progress: .never),
                collective: SingleProcess(), versions: [:], quiet: true)
        } catch let failure as JobFailure {
            #expect(failure.kind == .diverged)
            #expect(failure.exitCode == 3)
        }
        let lastLine = String(decoding: FileManager.default.contents(atPath: logPath)!, as: UTF8.self)
            .split(separator: "\n").last!
        #expect(lastLine.contains("\"reason\":\"diverged\""))
    }

    @Test("bad options and data fail with their kinds before training",
          arguments: [
              (TrainingConfiguration(dataPath: "/nonexistent/airfoil.dat"), JobFailure.Kind.missingData),
              (TrainingConfiguration(dataPath: SharedData.path, rows: 5000), .usage),
              (TrainingConfiguration(dataPath: SharedData.path, globalBatch: 1501), .usage),
              (TrainingConfiguration(dataPath: SharedData.path, learningRate: 0), .usage),
              (TrainingConfiguration(dataPath: SharedData.path, learningRate: .infinity), .usage),
              (TrainingConfiguration(dataPath: SharedData.path, epochs: -1), .usage),
              (TrainingConfiguration(dataPath: SharedData.path, evalEvery: 0), .usage),
              (TrainingConfiguration(dataPath: SharedData.path, logPath: "/nonexistent/dir/log.jsonl"), .output),
          ])
    func badInput(configuration: TrainingConfiguration, kind: JobFailure.Kind) {
        var quietConfiguration = configuration
        quietConfiguration.progress = .never
        do {
            try TrainingJob.run(quietConfiguration, collective: SingleProcess(), versions: [:], quiet: true)
            Issue.record("expected a failure of kind \(kind)")
        } catch let failure as JobFailure {
            #expect(failure.kind == kind, "\(failure.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
