import Common
import Data
import Formats
import Foundation
import MPI
import Models
import Optimization
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

    @Test("--eval-every-steps evaluates every N steps and after the last; unset, the header leaves it out")
    func evaluationEveryFewSteps() throws {
        func run(_ steps: Int?) throws -> (header: [String: Any], evalSteps: [Int], summary: [String: Any]) {
            var configuration = TrainingConfiguration(
                dataPath: SharedData.path, preset: .minibatch10, epochs: 1,
                logPath: try SharedData.temporaryDirectory().appendingPathComponent("run.jsonl").path, progress: .never)
            configuration.evalEverySteps = steps
            _ = try TrainingJob.run(configuration, collective: SingleProcess(), versions: [:], quiet: true)
            let records = try RunLogReader.records(at: configuration.logPath!)
            let config = try #require(records.first?["config"] as? [String: Any])
            return (config, records.filter { $0["type"] as? String == "eval" }.compactMap { $0["step"] as? Int },
                    try #require(records.last))
        }
        let (header, steps, summary) = try run(40)
        #expect(steps == [0, 40, 80, 120, 150])
        #expect(header["eval_every_steps"] as? Int == 40)
        // What a step-time model reads: per-phase seconds per step, the allreduce's bytes, the per-rank batch.
        let perStep = try #require(summary["step_seconds"] as? [String: Any])
        #expect((perStep["compute"] as? Double ?? 0) > 0 && perStep["allreduce"] as? Double == 0)
        #expect(summary["per_rank_batch"] as? Int == 10)
        #expect(summary["allreduce_bytes"] as? Int == 4 * (6 + 2 + 3 + 1),
                "6 parameters, the noise scale's 2, 3 row digits, the stop flag")
        let byExamples = try run(nil)
        #expect(byExamples.header["eval_every_steps"] == nil)
        #expect(byExamples.evalSteps == [0] + Array(stride(from: 20, through: 140, by: 20)) + [150], "every 200 examples")
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
        #expect(refusal?.message.contains("overwrite_log") == true, "\(refusal?.message ?? "")")
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

    /// Runs `configuration` quietly in one process; the failure it ends with, if any.
    private func failure(of configuration: TrainingConfiguration, memoryLimit: Int? = nil) -> JobFailure? {
        var quietConfiguration = configuration
        quietConfiguration.progress = .never
        do {
            try TrainingJob.run(
                quietConfiguration, collective: SingleProcess(), versions: [:], quiet: true, memoryLimit: memoryLimit)
            return nil
        } catch {
            return error as? JobFailure
        }
    }

    // Without the command line, messages name settings by their keys (`warmup_epochs`); the binary by flags.
    @Test("numbers that would trap once converted are refused with one line: warmup epochs, a minimum rate above the rate")
    func numbersBeyondTheirRange() {
        var warmup = TrainingConfiguration(dataPath: SharedData.path)
        warmup.warmupEpochs = 1e18
        let tooLong = failure(of: warmup)
        #expect(tooLong?.kind == .usage)
        #expect(tooLong?.message.contains("warmup_epochs 1e+18 is 1.5e+19 steps") == true, "\(tooLong?.message ?? "")")
        for kind in [LearningRateSchedule.Kind.cosine, .factor] {
            let floor = TrainingConfiguration(
                dataPath: SharedData.path, schedule: LearningRateSchedule(kind: kind, factor: 0.99, minimum: 0.3),
                scaleLR: .sqrt, baseBatch: 400)
            #expect(floor.learningRate == 0.4)
            let above = failure(of: floor)
            #expect(above?.kind == .usage)
            #expect(above?.message.contains("min_lr 0.3 is above the learning rate 0.2 (after scale_lr)") == true,
                    "\(above?.message ?? "accepted")")
        }
    }

    @Test("a run whose estimated memory per rank exceeds the limit is refused before loading, naming the estimate")
    func memoryEstimateRefusesBeforeAllocating() {
        let huge = failure(of: TrainingConfiguration(
            dataPath: "synthetic:rows=1000000000000", globalBatch: 1000))
        #expect(huge?.kind == .usage)
        #expect(huge?.message.contains("this run needs about") == true, "\(huge?.message ?? "accepted")")
        #expect(huge?.message.contains("TiB of memory per rank") == true, "\(huge?.message ?? "")")
        var wide = TrainingConfiguration(dataPath: SharedData.path)
        wide.model = ModelSpec(kind: .mlp, hidden: [46341, 46341])
        let wideFailure = failure(of: wide, memoryLimit: 4 << 30)
        #expect(wideFailure?.kind == .usage)
        #expect(wideFailure?.message.contains("more than max_memory 4.0 GiB") == true, "\(wideFailure?.message ?? "")")
        // The airfoil run needs a few tens of MiB: refused under 1 MiB, accepted under the default.
        #expect(failure(of: TrainingConfiguration(dataPath: SharedData.path), memoryLimit: 1 << 20)?.kind == .usage)
        #expect(failure(of: TrainingConfiguration(dataPath: SharedData.path)) == nil)
    }

    @Test("data whose model 'predict' would refuse (1,000,001 features) is refused before training to save it")
    func modelFileValidatedBeforeTraining() throws {
        let folder = try SharedData.temporaryDirectory()
        let data = folder.appendingPathComponent("wide.tsv").path
        // Two rows of 1,000,002 columns: one feature more than a model file may hold (ModelFile.maximumFeatures).
        let columns = ModelFile.maximumFeatures + 2
        let rows = ["0", "1"].map { Array(repeating: $0, count: columns).joined(separator: "\t") }
        try rows.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        var configuration = TrainingConfiguration(dataPath: data, globalBatch: 2, epochs: 1)
        configuration.saveModelPath = folder.appendingPathComponent("wide.model").path
        let refused = failure(of: configuration)
        #expect(refused?.kind == .invalidData)
        #expect(refused?.message.contains("makes a model that 'predict' would refuse: its field 'features' is "
            + "1000001, outside 1..1000000") == true, "\(refused?.message ?? "accepted")")
        #expect(!FileManager.default.fileExists(atPath: configuration.saveModelPath!))
    }

    @Test("a row count carried as Float digits stays exact past 2^24 rows and across many ranks")
    func rowCountDigits() {
        // 16,777,217 rows (2^24 + 1) in three shares, and 65,536 ranks of 300 rows: summed as MPI sums Floats.
        for shares in [[5_592_406, 5_592_406, 5_592_405], Array(repeating: 300, count: 65_536),
                       [1 << 39, 1 << 39 - 1]] {
            var sums = [Float](repeating: 0, count: RowCountDigits.slots)
            var digits = [Float](repeating: 0, count: RowCountDigits.slots)
            for share in shares {
                RowCountDigits.store(share, into: &digits)
                for slot in sums.indices { sums[slot] += digits[slot] }
            }
            #expect(RowCountDigits.load(sums) == shares.reduce(0, +))
            // As one Float each, the first sum is already off by one.
            if shares.count == 3 && shares[0] == 5_592_406 {
                #expect(Int(shares.reduce(Float(0)) { $0 + Float($1) }) != shares.reduce(0, +))
            }
        }
    }
}
