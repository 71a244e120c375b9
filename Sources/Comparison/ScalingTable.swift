import Foundation

/// One row of `compare`'s table: a run and, where it has comparable runs, its scaling figures.
public struct ScalingRow: Sendable {
    public var run: RunRecord
    /// `strong` (same global batch, other rank counts exist), `weak` (same per-rank batch), or nil.
    public var scaling: String?
    /// Strong scaling: sec/epoch at the group's smallest rank count over this run's.
    public var speedup: Double?
    /// Strong: speedup x smallest ranks / ranks. Weak: throughput per rank over the smallest rank count's.
    public var efficiency: Double?
    /// Examples per second per rank.
    public var throughputPerRank: Double { run.examplesPerSecond / Double(run.ranks) }
}

/// Groups runs that differ only in rank count and computes speedup and parallel efficiency.
///
/// Strong scaling groups share the global batch (and every other setting); weak scaling groups share the
/// per-rank batch, so the global batch grows with the ranks. Each group is measured against its smallest rank
/// count. A run in no group of two or more rank counts gets no scaling figures.
public enum ScalingAnalysis {
    public static func rows(_ runs: [RunRecord]) -> [ScalingRow] {
        var rows = runs.map { ScalingRow(run: $0) }
        let strong = Dictionary(grouping: rows.indices) { "\(rows[$0].run.settingsKey)|B=\(rows[$0].run.globalBatch)" }
        for members in strong.values where Set(members.map { rows[$0].run.ranks }).count > 1 {
            let base = members.min { rows[$0].run.ranks < rows[$1].run.ranks }!
            for index in members {
                let speedup = rows[base].run.secondsPerEpoch / rows[index].run.secondsPerEpoch
                rows[index].scaling = "strong"
                rows[index].speedup = speedup
                rows[index].efficiency = speedup * Double(rows[base].run.ranks) / Double(rows[index].run.ranks)
            }
        }
        let weak = Dictionary(grouping: rows.indices.filter { rows[$0].scaling == nil }) {
            "\(rows[$0].run.settingsKey)|b=\(rows[$0].run.perRankBatch)"
        }
        for members in weak.values where Set(members.map { rows[$0].run.ranks }).count > 1 {
            let base = members.min { rows[$0].run.ranks < rows[$1].run.ranks }!
            for index in members {
                rows[index].scaling = "weak"
                rows[index].efficiency = rows[index].throughputPerRank / rows[base].throughputPerRank
            }
        }
        return rows.sorted {
            ($0.run.globalBatch, $0.run.settingsKey, $0.run.ranks, $0.run.source)
                < ($1.run.globalBatch, $1.run.settingsKey, $1.run.ranks, $1.run.source)
        }
    }
}

/// The output formats of `compare`.
public enum TableFormat: String, CaseIterable, Sendable {
    case text, csv, markdown, json

    static let headers = [
        "ranks", "hosts", "global_batch", "per_rank_batch", "optimizer", "lr", "epochs", "final_loss", "sec_per_epoch",
        "examples_per_sec", "time_to_target", "allreduce_share", "scaling", "speedup", "efficiency",
        "throughput_per_rank", "log",
    ]

    /// Renders the rows; `target` is named in the text header.
    public func render(_ rows: [ScalingRow], target: Double) -> String {
        let cells = rows.map { row -> [String] in
            let run = row.run
            return [
                "\(run.ranks)", "\(run.hosts)", "\(run.globalBatch)", Self.number(run.perRankBatch, 2), run.optimizer,
                Self.number(run.learningRate, 4), "\(run.epochs)", Self.number(run.finalLoss, 4),
                Self.scientific(run.secondsPerEpoch), Self.number(run.examplesPerSecond, 0),
                run.secondsToTarget.map(Self.scientific) ?? "-", Self.number(100 * run.allreduceShare, 1) + "%",
                row.scaling ?? "-", row.speedup.map { Self.number($0, 2) } ?? "-",
                row.efficiency.map { Self.number($0, 2) } ?? "-", Self.number(row.throughputPerRank, 0), run.source,
            ]
        }
        switch self {
        case .csv:
            return ([Self.headers] + cells.map { $0.map { $0.hasSuffix("%") ? String($0.dropLast()) : $0 } })
                .map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\n")
        case .markdown:
            let header = "| " + Self.headers.joined(separator: " | ") + " |"
            let rule = "|" + String(repeating: "---|", count: Self.headers.count)
            return ([header, rule] + cells.map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
        case .json:
            let objects = rows.map { row -> [String: Any] in
                let run = row.run
                var object: [String: Any] = [
                    "log": run.source, "ranks": run.ranks, "hosts": run.hosts, "global_batch": run.globalBatch,
                    "per_rank_batch": run.perRankBatch, "optimizer": run.optimizer, "lr": run.learningRate,
                    "epochs": run.epochs, "final_loss": run.finalLoss, "sec_per_epoch": run.secondsPerEpoch,
                    "examples_per_sec": run.examplesPerSecond, "allreduce_share": run.allreduceShare,
                    "throughput_per_rank": row.throughputPerRank, "target": target,
                ]
                object["time_to_target"] = run.secondsToTarget
                object["scaling"] = row.scaling
                object["speedup"] = row.speedup
                object["efficiency"] = row.efficiency
                return object
            }
            let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .text:
            let table = [Self.headers] + cells
            let widths = Self.headers.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
            return table.map { line in
                line.enumerated().map { column, cell in
                    column == line.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                }.joined(separator: "  ")
            }.joined(separator: "\n") + "\n(time_to_target: training seconds until the loss first reached \(target))"
        }
    }

    private static func number(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    private static func scientific(_ value: Double) -> String {
        String(format: "%.3g", value)
    }

    private static func csvField(_ field: String) -> String {
        field.contains(",") || field.contains("\"") ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
