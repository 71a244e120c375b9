import ArgumentParser
import Common
import Comparison
import Data
import Formats
import Foundation
import Models
import Optimization
import Training

extension TableFormat: ExpressibleByArgument {}
extension ScalingMode: ExpressibleByArgument {}

/// `airfoil-dp compare`: a table over run logs, with scaling figures for runs that differ only in ranks.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare run logs: loss, time, throughput, time to a target loss, speedup and efficiency.",
        discussion: """
            Takes log files or folders (searched for *.jsonl). The table goes to stdout alone; logs that are \
            unfinished (no summary and no end record), of another schema or not logs are named on stderr and \
            skipped. Exit code 0 when at least one log was read, 65 otherwise. Every run is listed with its \
            status: finished, or the reason its end record gives (diverged, interrupted, ...) and the step it \
            stopped at; only finished runs join scaling groups, fits and plans. Runs of one folder whose settings agree except ranks and batch form \
            scaling groups: strong (same global batch: speedup and efficiency against the smallest rank count) or \
            weak (same per-rank batch: weak_efficiency, throughput per rank against the smallest rank count). \
            A run resumed at another rank count is marked mixed (rank_segments) and joins no group. The label \
            column names the settings that tell runs apart. Every format has the same columns; a missing figure \
            is empty (null in JSON); allreduce_share is a fraction. --fit prints instead, per batch-size sweep, \
            the fit S(B) = S_min (1 + B_noise / B) of steps to --target against global batch, beside the noise \
            scale the runs measured; --plan, per sweep and rank count, the batch that fit and the measured seconds \
            per step predict to reach --target soonest, beside the fastest measured runs; --lr-range, per sweep, \
            rank count and batch, the largest learning rate that finished, the smallest that diverged and the \
            fastest to --target.
            """)

    @Argument(help: "Run logs, or folders holding them.")
    var paths: [String]

    @Option(help: "The loss whose first reaching is timed.")
    var target: Double = 0.25

    @Option(help: "text, csv, markdown or json.")
    var format: TableFormat = .text

    @Option(help: "Scaling groups: strong, weak, or auto (whichever groups more runs).")
    var scaling: ScalingMode = .auto

    @Flag(help: "Print, instead of the runs, the fit S(B) = S_min (1 + B_noise / B) of steps to --target against batch, per batch-size sweep.")
    var fit = false

    @Flag(help: "Print, instead of the runs, the batch predicted to reach --target soonest at each rank count, from the fit and the measured step times.")
    var plan = false

    @Flag(name: .customLong("lr-range"), help: "Print, instead of the runs, per sweep, rank count and batch: the largest learning rate that finished, the smallest that diverged, and the fastest to --target.")
    var learningRateRange = false

    func validate() throws {
        guard target.isFinite, target > 0 else { throw ValidationError("--target must be a positive number") }
        guard [fit, plan, learningRateRange].filter({ $0 }).count <= 1 else {
            throw ValidationError("--fit, --plan and --lr-range print different tables: pass one")
        }
    }

    func run() throws {
        var runs: [RunRecord] = []
        for path in logFiles() {
            switch RunLogParser.read(path: path, target: target) {
            case .success(let run): runs.append(run)
            case .failure(let problem): Console.err("airfoil-dp compare: skipped \(problem)\n")
            }
        }
        guard !runs.isEmpty else {
            throw JobFailure(.invalidData, "compare: no readable run log among \(paths.joined(separator: " "))")
        }
        let rows = ScalingAnalysis.rows(runs, mode: scaling)
        if learningRateRange {
            Console.out(try format.render(rateRanges: LearningRateRange.rows(rows), target: target))
            return
        }
        guard fit || plan else {
            Console.out(try format.render(rows, target: target))
            return
        }
        let fits = BatchSizeSweeps.fits(rows)
        if fits.isEmpty {
            Console.err("airfoil-dp compare: no fit: no sweep has two or more batch sizes that reached \(target)\n")
        }
        for row in fits {
            guard let warning = row.fit.warning else { continue }
            Console.err("airfoil-dp compare: warning: \(row.series) at \(row.ranks) rank\(row.ranks == 1 ? "" : "s"): \(warning)\n")
        }
        Console.out(plan ? try format.render(plan: BatchSizePlan.rows(fits: fits, rows: rows), target: target)
                    : try format.render(fits: fits, target: target))
    }

    private func logFiles() -> [String] {
        paths.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                return [path]
            }
            let files = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
            return files.filter { $0.hasSuffix(".jsonl") }.sorted().map { PathComponents.join(path, $0) }
        }
    }
}
