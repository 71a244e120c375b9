import Formats
import Foundation

/// How `compare` forms scaling groups from runs that differ only in rank count.
public enum ScalingMode: String, CaseIterable, Sendable {
    /// Strong or weak, whichever puts more runs into groups of two or more rank counts (strong on a tie).
    case auto
    /// Same global batch at every rank count.
    case strong
    /// Same per-rank batch at every rank count: the global batch grows with the ranks.
    case weak
}

/// One row of `compare`'s table: a run and, where it has comparable runs, its scaling figures.
public struct ScalingRow: Sendable {
    public var run: RunRecord
    /// `strong` or `weak` for a run in a scaling group, `mixed` for a run resumed at another rank count (its
    /// seconds mix rank counts, so it is in no group), nil otherwise.
    public var scaling: String?
    /// The scaling group's number (1, 2, ...), shared by its runs.
    public var group: Int?
    /// What sets this run's settings apart from the other runs': the optimizer and learning rate always, then
    /// every other setting that differs between the runs, and the folder when runs come from several.
    public var label: String = ""
    /// The batch-size sweep the run belongs to: the label without the learning rate and what a sweep sets per
    /// batch (``BatchSizeSweeps``), so that one name covers every batch and rate of a sweep; ``adaptiveSeries`` for
    /// a run whose batch changes.
    public var series: String = ""
    /// The series of every run whose batch changes (``RunRecord/adaptsBatch``), which no fit, plan or prediction
    /// takes.
    public static let adaptiveSeries = "adaptive"
    /// Strong scaling: sec/epoch at the group's smallest rank count over this run's.
    public var speedup: Double?
    /// Strong scaling: speedup x smallest ranks / ranks.
    public var efficiency: Double?
    /// Weak scaling: throughput per rank over that of the group's smallest rank count.
    public var weakEfficiency: Double?
    /// Examples per second per rank (nil for a run that stopped early).
    public var throughputPerRank: Double? { run.examplesPerSecond.map { $0 / Double(run.ranks) } }
}

/// Groups runs that differ only in rank count and computes speedup and parallel efficiency.
///
/// One rule, also used by `scripts/plot-runs` (through `compare --format json`): runs are comparable when every
/// setting agrees except ranks and batch, they come from the same folder, and they finished (a run that stopped
/// early has no whole-run time to scale). Strong groups share the global
/// batch; weak groups share the per-rank batch. A folder is one kind of study, so one kind of group is formed
/// (``ScalingMode``); each group is measured against its smallest rank count.
public enum ScalingAnalysis {
    public static func rows(_ runs: [RunRecord], mode: ScalingMode = .auto) -> [ScalingRow] {
        var rows = runs.map { ScalingRow(run: $0) }
        let labels = differingSettings(runs)
        // The sweeps' names from the runs of a fixed batch alone: an adaptive run beside them renames none.
        let fixed = runs.indices.filter { !runs[$0].adaptsBatch }
        let series = differingSettings(fixed.map { runs[$0] }, showingRate: false, ignoring: BatchSizeSweeps.perBatch)
        for (index, name) in zip(fixed, series) { rows[index].series = name }
        for index in rows.indices {
            rows[index].label = labels[index]
            if runs[index].adaptsBatch { rows[index].series = ScalingRow.adaptiveSeries }
            if rows[index].run.mixesRankCounts { rows[index].scaling = "mixed" }
        }
        let candidates = rows.indices.filter { !rows[$0].run.mixesRankCounts && rows[$0].run.finished }
        func groups(_ batch: (RunRecord) -> String) -> [[Int]] {
            Dictionary(grouping: candidates) { "\(rows[$0].run.folder)|\(rows[$0].run.settingsKey)|\(batch(rows[$0].run))" }
                .values.filter { members in Set(members.map { rows[$0].run.ranks }).count > 1 }
        }
        let strong = groups { "B=\($0.globalBatch)" }
        let weak = groups { "b=\($0.perRankBatch)" }
        let useWeak = mode == .weak || (mode == .auto && weak.joined().count > strong.joined().count)
        for members in useWeak ? weak : strong {
            let base = members.min { (rows[$0].run.ranks, rows[$0].run.source) < (rows[$1].run.ranks, rows[$1].run.source) }!
            for index in members {
                rows[index].scaling = useWeak ? "weak" : "strong"
                if useWeak {
                    rows[index].weakEfficiency = rows[index].throughputPerRank! / rows[base].throughputPerRank!
                } else {
                    let speedup = rows[base].run.secondsPerEpoch! / rows[index].run.secondsPerEpoch!
                    rows[index].speedup = speedup
                    rows[index].efficiency = speedup * Double(rows[base].run.ranks) / Double(rows[index].run.ranks)
                }
            }
        }
        rows.sort {
            let left = $0.run, right = $1.run
            let leftBatch = useWeak ? left.perRankBatch : Double(left.globalBatch)
            let rightBatch = useWeak ? right.perRankBatch : Double(right.globalBatch)
            return (left.folder, $0.label, leftBatch, left.ranks, left.source)
                < (right.folder, $1.label, rightBatch, right.ranks, right.source)
        }
        var numbers: [String: Int] = [:]
        for index in rows.indices where rows[index].scaling == "strong" || rows[index].scaling == "weak" {
            let run = rows[index].run
            let key = "\(run.folder)|\(run.settingsKey)|\(useWeak ? "\(run.perRankBatch)" : "\(run.globalBatch)")"
            if numbers[key] == nil { numbers[key] = numbers.count + 1 }
            rows[index].group = numbers[key]
        }
        return rows
    }

    /// Each run's label: the optimizer (and its learning rate unless `showingRate` is false), the settings that
    /// differ between the runs except `ignoring`, and the folder when the runs come from several.
    static func differingSettings(_ runs: [RunRecord], showingRate: Bool = true, ignoring: Set<String> = [])
        -> [String]
    {
        let shown: Set<String> = ["optimizer.kind", "optimizer.learning_rate"]
        let keys = Set(runs.flatMap(\.settings.keys)).subtracting(shown).subtracting(ignoring).filter { key in
            Set(runs.map { $0.settings[key] ?? "" }).count > 1
        }.sorted()
        let folders = Set(runs.map(\.folder)).count > 1
        return runs.map { run in
            var parts = [showingRate ? "\(run.optimizer) lr \(String(format: "%g", run.learningRate))" : run.optimizer]
            parts += keys.map { "\($0)=\(run.settings[$0] ?? "unset")" }
            if folders { parts.append("in \(run.folder.isEmpty ? "." : run.folder)") }
            return parts.joined(separator: ", ")
        }
    }
}

/// The output formats of `compare`: the same columns, names and units in each; a figure a run lacks is empty
/// in text, markdown and CSV, and `null` in JSON.
public enum TableFormat: String, CaseIterable, Sendable {
    case text, csv, markdown, json

    /// One cell: a number with its text form, or text.
    private enum Cell {
        case number(Double?, String)
        case text(String)

        var text: String {
            switch self {
            case .number(let value, let format): value.map { String(format: format, $0) } ?? ""
            case .text(let text): text
            }
        }

        var json: Any {
            switch self {
            // JSON has no infinities or NaN: a figure that is not finite (a zero time's ratio) is null.
            case .number(let value, _): value.flatMap { $0.isFinite ? $0 as Any : nil } ?? NSNull()
            case .text(let text): text.isEmpty ? NSNull() : text
            }
        }
    }

    /// The columns: name and cell of a row. `allreduce_share` is a fraction (0.25 = a quarter of training time).
    private static func columns(target: Double) -> [(String, (ScalingRow) -> Cell)] {
        func count(_ value: Int?) -> Cell { .number(value.map(Double.init), "%.0f") }
        return [
            ("ranks", { count($0.run.ranks) }),
            ("rank_segments", { .text($0.run.mixesRankCounts ? $0.run.rankSegments.map(String.init).joined(separator: "+") : "") }),
            ("hosts", { count($0.run.hosts) }),
            ("global_batch", { count($0.run.globalBatch) }),
            ("per_rank_batch", { .number($0.run.perRankBatch, "%.2f") }),
            ("optimizer", { .text($0.run.optimizer) }),
            ("lr", { .number($0.run.learningRate, "%.4g") }),
            ("epochs", { count($0.run.epochs) }),
            ("status", { .text($0.run.status) }),
            ("stopped_at_step", { count($0.run.stoppedAtStep) }),
            ("final_loss", { .number($0.run.finalLoss, "%.4f") }),
            ("sec_per_epoch", { .number($0.run.secondsPerEpoch, "%.3g") }),
            ("examples_per_sec", { .number($0.run.examplesPerSecond, "%.0f") }),
            ("target", { _ in .number(target, "%g") }),
            ("time_to_target", { .number($0.run.secondsToTarget, "%.3g") }),
            ("steps_to_target", { .number($0.run.stepsToTarget, "%.1f") }),
            ("examples_to_target", { .number($0.run.examplesToTarget, "%.0f") }),
            ("target_resolution", { count($0.run.targetResolution) }),
            ("noise_scale", { .number($0.run.noiseScale, "%.4g") }),
            ("noise_scale_lo", { .number($0.run.noiseScaleInterval?.low, "%.4g") }),
            ("noise_scale_hi", { .number($0.run.noiseScaleInterval?.high, "%.4g") }),
            ("sec_per_step", { .number($0.run.secondsPerStep, "%.3g") }),
            ("allreduce_share", { .number($0.run.allreduceShare, "%.3f") }),
            ("scaling", { .text($0.scaling ?? "") }),
            ("group", { count($0.group) }),
            ("speedup", { .number($0.speedup, "%.2f") }),
            ("efficiency", { .number($0.efficiency, "%.2f") }),
            ("weak_efficiency", { .number($0.weakEfficiency, "%.2f") }),
            ("throughput_per_rank", { .number($0.throughputPerRank, "%.0f") }),
            ("label", { .text($0.label) }),
            ("series", { .text($0.series) }),
            ("log", { .text($0.run.source) }),
        ]
    }

    /// The column names, in order.
    public static var headers: [String] { columns(target: 0).map(\.0) }

    /// Renders the rows; `target` is the loss `time_to_target` refers to, a column in every format.
    public func render(_ rows: [ScalingRow], target: Double) throws -> String {
        let columns = Self.columns(target: target)
        return try layout(headers: columns.map(\.0), cells: rows.map { row in columns.map { $0.1(row) } },
                      footnote: "(time_to_target, steps_to_target, examples_to_target: training seconds, steps and "
                          + "examples until the loss first reached \(target), interpolated between the evaluations "
                          + "around the crossing (log-loss linear in steps), which were target_resolution steps apart; "
                          + "noise_scale: the gradient noise scale B_simple logged there, or at the end, with its 90% "
                          + "interval noise_scale_lo to noise_scale_hi; "
                          + "allreduce_share: a fraction of training time; status: finished, or why the run stopped "
                          + "at stopped_at_step (final_loss is then its last finite loss, and its times are empty))")
    }

    /// Renders the fits of steps-to-target against batch, one per batch-size sweep.
    public func render(fits: [BatchSizeSweeps.Row], target: Double) throws -> String {
        let headers = ["series", "ranks", "target", "batch_sizes", "s_min", "b_noise", "b_noise_factor", "e_min",
                       "b_simple", "warning", "folder"]
        let cells = fits.map { row -> [Cell] in
            [.text(row.series), .number(Double(row.ranks), "%.0f"), .number(target, "%g"),
             .number(Double(row.fit.points), "%.0f"), .number(row.fit.minimumSteps, "%.4g"),
             .number(row.fit.noiseBatch, "%.4g"), .number(row.fit.noiseBatchFactor, "%.3g"),
             .number(row.fit.minimumExamples, "%.4g"), .number(row.measuredNoiseScale, "%.4g"),
             .text(row.fit.warning ?? ""), .text(row.folder)]
        }
        return try layout(headers: headers, cells: cells,
                      footnote: "(S(B) = s_min (1 + b_noise / B) fitted to the fewest steps to \(target) at each batch, "
                          + "least squares in log space; b_noise x/÷ b_noise_factor is one standard error; "
                          + "e_min = s_min b_noise examples; b_simple: the median over those runs of the noise scale "
                          + "they measured when they reached \(target))")
    }

    /// Renders the plan: per sweep and rank count, the batch predicted to reach the target soonest.
    public func render(plan: [BatchSizePlan.Row], target: Double) throws -> String {
        let headers = ["series", "ranks", "target", "batch", "swept", "predicted_steps", "sec_per_step",
                       "predicted_seconds", "measured_seconds", "error", "best_batch", "best_lr", "best_seconds",
                       "folder"]
        let cells = plan.map { row -> [Cell] in
            [.text(row.series), .number(Double(row.ranks), "%.0f"), .number(target, "%g"),
             .number(Double(row.batch), "%.0f"), .text(row.swept ? "yes" : "no"), .number(row.predictedSteps, "%.4g"),
             .number(row.secondsPerStep, "%.3g"), .number(row.predictedSeconds, "%.3g"),
             .number(row.measuredSeconds, "%.3g"), .number(row.error, "%+.2f"),
             .number(row.best.map { Double($0.globalBatch) }, "%.0f"), .number(row.best?.learningRate, "%.4g"),
             .number(row.best?.secondsToTarget, "%.3g"), .text(row.folder)]
        }
        return try layout(headers: headers, cells: cells,
                      footnote: "(batch: of the swept batches and the powers of two between them, the one predicted "
                          + "(as --predict predicts) to reach \(target) soonest at this rank count; swept: whether a "
                          + "run measured it; measured_seconds: the fastest run to \(target) there, error = predicted / "
                          + "measured - 1; best_*: the fastest run at this rank count)")
    }

    /// Renders the learning-rate ranges: per sweep, rank count and batch, the usable rates and the fastest.
    public func render(rateRanges: [LearningRateRange.Row], target: Double) throws -> String {
        let headers = ["series", "ranks", "global_batch", "target", "runs", "diverged", "largest_stable_lr",
                       "smallest_diverged_lr", "fastest_lr", "fastest_seconds", "fastest_steps", "folder"]
        let cells = rateRanges.map { row -> [Cell] in
            [.text(row.series), .number(Double(row.ranks), "%.0f"), .number(Double(row.globalBatch), "%.0f"),
             .number(target, "%g"), .number(Double(row.runs), "%.0f"), .number(Double(row.diverged), "%.0f"),
             .number(row.largestStableRate, "%.4g"), .number(row.smallestDivergedRate, "%.4g"),
             .number(row.fastest?.learningRate, "%.4g"), .number(row.fastest?.secondsToTarget, "%.3g"),
             .number(row.fastest?.stepsToTarget, "%.1f"), .text(row.folder)]
        }
        return try layout(headers: headers, cells: cells,
                      footnote: "(runs: the learning rates run at this rank count and batch, diverged: how many of "
                          + "them diverged; largest_stable_lr: the largest that finished; smallest_diverged_lr: the "
                          + "smallest that diverged; fastest_*: the finished run that reached \(target) soonest)")
    }

    /// Renders predictions of time to the target (``TimeToTarget/predictions(_:ranks:batches:)``).
    public func render(predictions: [TimeToTarget.Prediction], target: Double) throws -> String {
        let headers = ["series", "ranks", "global_batch", "target", "predicted_steps", "sec_per_step",
                       "predicted_seconds", "predicted_seconds_lo", "predicted_seconds_hi", "measured_steps",
                       "measured_seconds", "extrapolated", "folder"]
        let cells = predictions.map { row -> [Cell] in
            [.text(row.series), .number(Double(row.ranks), "%.0f"), .number(Double(row.globalBatch), "%.0f"),
             .number(target, "%g"), .number(row.predictedSteps, "%.4g"), .number(row.secondsPerStep, "%.3g"),
             .number(row.predictedSeconds, "%.3g"), .number(row.predictedSecondsLow, "%.3g"),
             .number(row.predictedSecondsHigh, "%.3g"), .number(row.measured?.steps, "%.4g"),
             .number(row.measured?.seconds, "%.3g"), .text(row.extrapolated ? "yes" : "no"), .text(row.folder)]
        }
        let level = Int(TimeToTarget.intervalLevel * 100)
        return try layout(headers: headers, cells: cells,
                      footnote: "(predicted_steps: the fit S(B) = s_min (1 + b_noise / B) of each measured batch's "
                          + "fewest steps to \(target); sec_per_step: the fit T = c0 + c1 ceil(B / ranks) + A(ranks) "
                          + "of the runs' seconds per step (A, the allreduce, from the runs or a --network profile); predicted_seconds = their product plus the median start-up "
                          + "excess of the measured times, lo and hi its \(level)% "
                          + "interval; measured_*: the medians at the rate with the fewest steps, where the pair ran; "
                          + "extrapolated: a rank count or batch outside those measured)")
    }

    /// Renders the leave-one-out checks, then their summary: the repeats' own noise beside the median absolute
    /// error of steps and of seconds, and how many measured times fell inside their intervals.
    public func render(checks: [TimeToTarget.Check], target: Double) throws -> String {
        let headers = ["series", "ranks", "global_batch", "target", "predicted_steps", "measured_steps",
                       "steps_error", "predicted_seconds", "predicted_seconds_lo", "predicted_seconds_hi",
                       "measured_seconds", "error", "inside", "repeats", "folder"]
        let cells = checks.map { check -> [Cell] in
            let prediction = check.prediction
            return [.text(prediction.series), .number(Double(prediction.ranks), "%.0f"),
                    .number(Double(prediction.globalBatch), "%.0f"), .number(target, "%g"),
                    .number(prediction.predictedSteps, "%.4g"), .number(check.measured.steps, "%.4g"),
                    .number(check.stepsError, "%+.3f"), .number(prediction.predictedSeconds, "%.3g"),
                    .number(prediction.predictedSecondsLow, "%.3g"), .number(prediction.predictedSecondsHigh, "%.3g"),
                    .number(check.measured.seconds, "%.3g"), .number(check.secondsError, "%+.3f"),
                    .text(check.inside.map { $0 ? "yes" : "no" } ?? ""), .number(Double(check.measured.repeats), "%.0f"),
                    .text(prediction.folder)]
        }
        let stepsError = BatchSizeSweeps.median(checks.map { abs($0.stepsError) })
        let secondsError = BatchSizeSweeps.median(checks.map { abs($0.secondsError) })
        let judged = checks.compactMap(\.inside)
        let stepsNoise = BatchSizeSweeps.median(checks.compactMap(\.measured.stepsSpread))
        let secondsNoise = BatchSizeSweeps.median(checks.compactMap(\.measured.secondsSpread))
        func fraction(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "none" }
        let coverage = "\(judged.filter { $0 }.count)/\(judged.count)"
        let summary: [(String, String)] = [
            ("repeat_noise_steps", fraction(stepsNoise)), ("repeat_noise", fraction(secondsNoise)),
            ("median_abs_error_steps", fraction(stepsError)), ("median_abs_error", fraction(secondsError)),
            ("interval_coverage", coverage),
        ]
        if self == .json {
            let table = try layout(headers: headers, cells: cells, footnote: "")
            let object: [String: Any] = [
                "checks": try JSONSerialization.jsonObject(with: Data(table.utf8)),
                "median_abs_error_steps": stepsError.map { $0 as Any } ?? NSNull(),
                "median_abs_error": secondsError.map { $0 as Any } ?? NSNull(),
                "interval_coverage": coverage,
                "repeat_noise_steps": stepsNoise.map { $0 as Any } ?? NSNull(),
                "repeat_noise": secondsNoise.map { $0 as Any } ?? NSNull(),
            ]
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        let table = try layout(headers: headers, cells: cells,
                           footnote: "(each batch, or with --hold-out ranks each rank count, left out of both fits "
                               + "in turn and predicted from the others; errors are predicted / measured - 1; inside: "
                               + "the measured seconds within the \(Int(TimeToTarget.intervalLevel * 100))% interval; "
                               + "repeat_noise: the median over the checks of the repeats' median |repeat / median - 1|, "
                               + "the measurements' own noise)")
        // A blank line ends a Markdown table; the summary is not a row of it.
        return table + (self == .markdown ? "\n\n" : "\n") + summary.map { "\($0.0): \($0.1)" }.joined(separator: "\n")
    }

    private func layout(headers: [String], cells: [[Cell]], footnote: String) throws -> String {
        switch self {
        case .csv:
            return ([headers] + cells.map { $0.map(\.text) }).map { $0.map(Self.csvField).joined(separator: ",") }
                .joined(separator: "\n")
        case .markdown:
            let header = "| " + headers.joined(separator: " | ") + " |"
            let rule = "|" + String(repeating: "---|", count: headers.count)
            let lines = cells.map { "| " + $0.map { $0.text.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
            return ([header, rule] + lines).joined(separator: "\n")
        case .json:
            let objects = cells.map { Dictionary(uniqueKeysWithValues: zip(headers, $0.map(\.json))) }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        case .text:
            let table = [headers] + cells.map { $0.map(\.text) }
            let widths = headers.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
            return table.map { line in
                line.enumerated().map { column, cell in
                    column == line.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                }.joined(separator: "  ")
            }.joined(separator: "\n") + "\n" + footnote
        }
    }

    private static func csvField(_ field: String) -> String {
        field.contains(",") || field.contains("\"") || field.contains("\n")
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
