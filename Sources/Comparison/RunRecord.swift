import Common
import Formats
import Foundation

/// What `compare` needs from one run log: a run that finished, or one that stopped early and said why (a diverged
/// run is a result of a learning-rate sweep, not a failure).
public struct RunRecord: Equatable, Sendable {
    /// The log file.
    public var source: String
    /// How the run ended: `finished` (the log ends in a summary), else the reason of its `end` record
    /// (`diverged`, `interrupted`, `preempted`, `replicas_differ`, `batch_mismatch`).
    public var status: String
    public var ranks: Int
    public var hosts: Int
    public var globalBatch: Int
    public var rows: Int
    public var epochs: Int
    public var preset: String
    public var optimizer: String
    /// The learning rate the run started with (after batch scaling).
    public var learningRate: Double
    /// The summary's final loss; for a run that stopped early, the last finite loss it evaluated.
    public var finalLoss: Double
    /// The step a run that stopped early stopped at (its `end` record's); nil for a finished run.
    public var stoppedAtStep: Int?
    /// The summary's figures: nil for a run that stopped early, whose time covers only part of its epochs.
    public var secondsPerEpoch: Double?
    public var examplesPerSecond: Double?
    /// Training seconds, steps and examples until the loss first reached the target, if it did, interpolated
    /// between the evaluations around the crossing (``TargetCrossing``).
    public var secondsToTarget: Double?
    public var stepsToTarget: Double?
    public var examplesToTarget: Double?
    /// Steps between the evaluations around the crossing: the resolution of the three figures above.
    public var targetResolution: Int?
    /// The gradient noise scale B_simple the run logged at the evaluation that first reached the target, or at its
    /// last evaluation if none did (nil when the run did not estimate it).
    public var noiseScale: Double?
    /// Its 90% interval, logged with it (nil in logs before airfoil-dp 0.3, and where the record has none).
    public var noiseScaleInterval: NoiseScaleInterval?
    /// Training seconds per step over the whole run (nil for a run that stopped early).
    public var secondsPerStep: Double?
    /// Allreduce seconds over training seconds (nil for a run that stopped early).
    public var allreduceShare: Double?
    /// Seconds per step outside and inside the allreduce (the summary's `step_seconds`, or its seconds over its
    /// steps in logs before it; nil for a run that stopped early).
    public var computeSecondsPerStep: Double?
    public var allreduceSecondsPerStep: Double?
    /// The bytes each step's allreduce carries (nil in logs before airfoil-dp 0.3).
    public var allreduceBytes: Int?
    /// Every setting of the configuration that is not about ranks, batch or where outputs go, flattened to
    /// "optimizer.kind" = "sgd" and so on: runs are comparable when these agree.
    public var settings: [String: String]
    /// The rank count of each segment of the run: one entry, or more for a run resumed at other rank counts
    /// (its seconds then mix the segments).
    public var rankSegments: [Int]
    /// The rule of a run whose batch changes (`noise`, `warmup`: `--batch-schedule`); nil with a fixed batch.
    /// ``globalBatch`` is then its first step's.
    public var batchSchedule: String? = nil

    /// Examples per rank per step.
    public var perRankBatch: Double { Double(globalBatch) / Double(ranks) }
    /// The largest rank's share of a step, which the others wait for.
    public var largestShare: Int { (globalBatch + ranks - 1) / ranks }
    /// The folder the log is in: runs of different folders (sweeps) are never merged into one scaling group.
    public var folder: String { PathComponents.folder(of: source) }
    /// One text for all of ``settings``, to group by.
    public var settingsKey: String { settings.keys.sorted().map { "\($0)=\(settings[$0]!)" }.joined(separator: ";") }
    /// True when the run was resumed at another rank count.
    public var mixesRankCounts: Bool { Set(rankSegments).count > 1 }
    /// True when the run's batch changes: its steps and examples to the target are what they are, but it has no one
    /// batch for the S(B) fit, the plan or the predictions.
    public var adaptsBatch: Bool { batchSchedule != nil }
    /// True when the log ends in a summary: only such runs enter scaling groups, fits and plans.
    public var finished: Bool { status == Self.finishedStatus }

    /// The status of a run whose log ends in a summary.
    public static let finishedStatus = "finished"
}

/// A 90% interval around a logged noise scale.
public struct NoiseScaleInterval: Equatable, Sendable {
    public var low: Double
    public var high: Double

    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }
}

/// Why a file was skipped.
public struct LogProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public var source: String
    public var reason: String
    public var description: String { "\(source): \(reason)" }
}

/// Reads run logs written by `airfoil-dp train --log` (schema 1).
public enum RunLogParser {
    /// The schema this reader understands.
    public static let schema = 1

    /// Reads one log; a damaged, unfinished (no summary and no `end` record) or foreign file is a ``LogProblem``,
    /// never a crash.
    public static func read(path: String, target: Double) -> Result<RunRecord, LogProblem> {
        switch InputFile.openOrRefuse(path) {
        case .failure(let refusal):
            return .failure(LogProblem(source: path, reason: refusal.problem))
        case .success(let file):
            defer { close(file.descriptor) }
            do {
                let bytes = try InputFile.read(file.descriptor, from: 0, count: file.size, path: path, what: "run log")
                return parse(Data(bytes), source: path, target: target)
            } catch {
                return .failure(LogProblem(source: path, reason: "cannot be read (\(error))"))
            }
        }
    }

    /// Parses a log's bytes.
    public static func parse(_ data: Data, source: String, target: Double) -> Result<RunRecord, LogProblem> {
        func problem(_ reason: String) -> Result<RunRecord, LogProblem> {
            .failure(LogProblem(source: source, reason: reason))
        }
        var records: [[String: Any]] = []
        var lines: [Data] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                return problem("line \(index + 1) is not a JSON object: not a run log, or damaged")
            }
            records.append(object)
            lines.append(Data(line))
        }
        guard let header = records.first, header["type"] as? String == "header" else {
            return problem("does not start with a header record: not an airfoil-dp run log")
        }
        guard let schema = header["schema"] as? Int, schema == Self.schema else {
            return problem("schema \(header["schema"].map { "\($0)" } ?? "missing"), this airfoil-dp reads \(Self.schema)")
        }
        let last = records.last?["type"] as? String
        guard last == "summary" || last == "end" else {
            return problem("incomplete: no summary or end record; the run died or is still running")
        }
        let decoder = JSONFormat.decoder()
        guard let config = header["config"] as? [String: Any],
              let ranks = header["ranks"] as? Int, ranks > 0,
              let batch = config["global_batch"] as? Int, batch > 0,
              let rows = config["rows"] as? Int,
              let epochs = config["epochs"] as? Int
        else {
            return problem("a header key is missing or has the wrong type")
        }
        let evals = zip(records, lines).compactMap { record, line in
            record["type"] as? String == "eval" ? try? decoder.decode(EvalRecord.self, from: line) : nil
        }
        var ending = Ending(status: RunRecord.finishedStatus, finalLoss: 0)
        if last == "summary" {
            guard let result = try? decoder.decode(SummaryRecord.self, from: lines[lines.count - 1]) else {
                return problem("a summary key is missing or has the wrong type")
            }
            ending = Ending(summary: result, epochs: epochs)
        } else {
            guard let end = try? decoder.decode(EndRecord.self, from: lines[lines.count - 1]), end.step >= 0,
                  let finalLoss = end.lastFiniteLoss ?? evals.last(where: { $0.loss.isFinite })?.loss
            else {
                return problem("an end record key is missing or has the wrong type, or no loss was evaluated")
            }
            ending = Ending(status: end.reason, finalLoss: finalLoss, stoppedAtStep: end.step)
        }
        let optimizer = (config["optimizer"] as? [String: Any]) ?? [:]
        let learningRate = config["effective_learning_rate"] as? Double
            ?? optimizer["learning_rate"] as? Double ?? 0
        let reached = evals.first { $0.loss <= target }
        let crossing = TargetCrossing.find(in: evals, target: target)
        var settings = config
        for key in ["global_batch", "log_path", "overwrite_log", "progress", "checkpoint_path", "checkpoint_every",
                    "resume_path", "stall_timeout", "data_path", "effective_learning_rate", "timeline_path",
                    "timeline_steps", "noise_scale_decay"] {
            settings[key] = nil
        }
        let segments = [ranks] + records.filter { $0["type"] as? String == "resume" }.compactMap { $0["ranks"] as? Int }
        return .success(RunRecord(
            source: source, status: ending.status, ranks: ranks, hosts: (header["hosts"] as? [Any])?.count ?? 1,
            globalBatch: batch, rows: rows, epochs: epochs, preset: config["preset"] as? String ?? "?",
            optimizer: optimizer["kind"] as? String ?? "sgd", learningRate: learningRate, finalLoss: ending.finalLoss,
            stoppedAtStep: ending.stoppedAtStep, secondsPerEpoch: ending.secondsPerEpoch,
            examplesPerSecond: ending.examplesPerSecond,
            secondsToTarget: crossing?.seconds, stepsToTarget: crossing?.step, examplesToTarget: crossing?.examples,
            targetResolution: crossing?.resolution, noiseScale: (reached ?? evals.last)?.noiseScale,
            noiseScaleInterval: (reached ?? evals.last).flatMap { record in
                record.noiseScaleLo.flatMap { low in record.noiseScaleHi.map { NoiseScaleInterval(low: low, high: $0) } }
            },
            secondsPerStep: ending.secondsPerStep, allreduceShare: ending.allreduceShare,
            computeSecondsPerStep: ending.stepSeconds?.compute, allreduceSecondsPerStep: ending.stepSeconds?.allreduce,
            allreduceBytes: ending.allreduceBytes, settings: flatten(settings, prefix: ""), rankSegments: segments,
            batchSchedule: (config["batch_schedule"] as? [String: Any])?["kind"] as? String))
    }

    /// How a log ends: its summary's figures, or an `end` record's reason and step.
    private struct Ending {
        var status: String
        var finalLoss: Double
        var stoppedAtStep: Int?
        var secondsPerEpoch: Double?
        var examplesPerSecond: Double?
        var secondsPerStep: Double?
        var allreduceShare: Double?
        var stepSeconds: StepSeconds?
        var allreduceBytes: Int?

        init(status: String, finalLoss: Double, stoppedAtStep: Int? = nil) {
            self.status = status
            self.finalLoss = finalLoss
            self.stoppedAtStep = stoppedAtStep
        }

        init(summary: SummaryRecord, epochs: Int) {
            self.init(status: RunRecord.finishedStatus, finalLoss: summary.finalLoss)
            let trainSeconds = summary.secPerEpoch * Double(epochs)
            let compute = summary.seconds.compute, allreduce = summary.seconds.allreduce
            secondsPerEpoch = summary.secPerEpoch
            examplesPerSecond = summary.examplesPerSec
            secondsPerStep = summary.steps > 0 ? trainSeconds / Double(summary.steps) : 0
            allreduceShare = compute + allreduce > 0 ? allreduce / (compute + allreduce) : 0
            let steps = Double(max(summary.steps, 1))
            stepSeconds = summary.stepSeconds ?? StepSeconds(compute: compute / steps, allreduce: allreduce / steps)
            allreduceBytes = summary.allreduceBytes
        }
    }

    /// Nested settings as "outer.inner" keys with their JSON text as values.
    private static func flatten(_ object: [String: Any], prefix: String) -> [String: String] {
        var flat: [String: String] = [:]
        for (key, value) in object {
            if let nested = value as? [String: Any] {
                flat.merge(flatten(nested, prefix: prefix + key + "."), uniquingKeysWith: { first, _ in first })
            } else if let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]) {
                flat[prefix + key] = String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
            }
        }
        return flat
    }
}
