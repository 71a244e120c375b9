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
extension TimeToTarget.HeldOut: ExpressibleByArgument {}

/// `airfoil-dp compare`: a table over run logs, with scaling figures for runs that differ only in ranks.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare run logs: loss, time, throughput, time to a target loss, speedup and efficiency.",
        discussion: """
            Takes log files or folders (searched for *.jsonl). The table goes to stdout alone; logs that are \
            unfinished (no summary and no end record), of another schema or not logs are named on stderr and \
            skipped. Exit code 0 when at least one log was read, 65 otherwise. Every run is listed with its \
            status: finished, or the reason its end record gives (diverged, interrupted, ...) and the step it \
            stopped at; only finished runs join scaling groups, fits and plans. Runs of one folder whose \
            settings agree except ranks and batch form \
            scaling groups: strong (same global batch: speedup and efficiency against the smallest rank count) or \
            weak (same per-rank batch: weak_efficiency, throughput per rank against the smallest rank count). \
            A run resumed at another rank count is marked mixed (rank_segments) and joins no group. The label \
            column names the settings that tell runs apart. Every format has the same columns; a missing figure \
            is empty (null in JSON); allreduce_share is a fraction. --fit prints instead, per batch-size sweep, \
            the fit S(B) = S_min (1 + B_noise / B) of steps to --target against global batch, beside the noise \
            scale the runs measured; --plan, per sweep and rank count, the batch (swept, or a power of two between \
            the swept ones) that --predict's model predicts to reach --target soonest, beside the fastest measured \
            runs; --lr-range, per sweep, \
            rank count and batch, the largest learning rate that finished, the smallest that diverged and the \
            fastest to --target; --predict, time to --target for batches and rank counts (--batches, --ranks; \
            default the swept batches and powers of two up to 4x the largest, rank counts up to 1024) from the \
            fit of steps against batch times a fit of seconds per step (T = c0 + c1 ceil(B/N) + A(N), the \
            allreduce A(N) = alpha log2 N fitted to the runs at 2 ranks or more, or taken from --network profiles \
            written by 'bench allreduce --network-profile', which any rank count needs when the runs measured \
            one rank only), plus the measured start-up excess, with a 90% interval; --validate, each batch (or with \
            --hold-out ranks each rank count) left out of both fits in turn and predicted, with the median \
            absolute errors and the intervals' coverage.
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

    @Flag(help: "Print, instead of the runs, the batch predicted to reach --target soonest at each rank count (as --predict predicts).")
    var plan = false

    @Flag(name: .customLong("lr-range"), help: "Print, instead of the runs, per sweep, rank count and batch: the largest learning rate that finished, the smallest that diverged, and the fastest to --target.")
    var learningRateRange = false

    @Flag(help: "Print, instead of the runs, predicted time to --target for batches and rank counts, measured or not.")
    var predict = false

    @Flag(name: .customLong("validate"), help: "Print, instead of the runs, each batch left out of the fits and predicted, with the errors and the intervals' coverage.")
    var leaveOneOut = false

    @Option(help: "Rank counts to predict, comma-separated (--predict; default: those measured and powers of two up to 1024), or whose held-out runs --validate checks.")
    var ranks: String?

    @Option(help: "Global batches to predict, comma-separated (--predict; default: those swept and powers of two up to 4x the largest), or whose held-out runs --validate checks.")
    var batches: String?

    @Option(name: .customLong("network"), help: ArgumentHelp(
        "A network profile from 'bench allreduce --network-profile' for the allreduce's cost (--predict, --validate, --plan; repeat for several rank counts).",
        valueName: "file"))
    var networkProfiles: [String] = []

    @Option(help: "What --validate leaves out in turn: batch (each batch, at the same rank counts) or ranks (each rank count, from the others' runs).")
    var holdOut: TimeToTarget.HeldOut = .batch

    func validate() throws {
        guard target.isFinite, target > 0 else { throw ValidationError("--target must be a positive number") }
        guard [fit, plan, learningRateRange, predict, leaveOneOut].filter({ $0 }).count <= 1 else {
            throw ValidationError("--fit, --plan, --lr-range, --predict and --validate print different tables: pass one")
        }
        guard predict || leaveOneOut || (ranks == nil && batches == nil) else {
            throw ValidationError("--ranks and --batches choose what --predict predicts or --validate checks: pass one")
        }
        guard predict || leaveOneOut || plan || networkProfiles.isEmpty else {
            throw ValidationError("--network is for --predict, --validate and --plan")
        }
        guard leaveOneOut || holdOut == .batch else { throw ValidationError("--hold-out is for --validate") }
        _ = try Self.positiveList(ranks, "--ranks")
        _ = try Self.positiveList(batches, "--batches")
    }

    /// A comma-separated list of positive whole numbers, or nil when not given.
    static func positiveList(_ text: String?, _ flag: String) throws -> [Int]? {
        guard let text else { return nil }
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 && $0! <= 1 << 40 }) else {
            throw ValidationError("\(flag) must be positive whole numbers separated by commas, not '\(text)'")
        }
        return values.map { $0! }
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
        let profiles = try networkProfiles.map {
            try NetworkProfile.decode(try InputFile.read($0, what: "network profile"), source: $0)
        }
        if learningRateRange {
            Console.out(try format.render(rateRanges: LearningRateRange.rows(rows), target: target))
            return
        }
        if predict || leaveOneOut {
            try printPredictions(rows, profiles: profiles)
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
        Console.out(plan
                    ? try format.render(plan: BatchSizePlan.rows(studies: TimeToTarget.studies(rows, profiles: profiles)),
                                        target: target)
                    : try format.render(fits: fits, target: target))
    }

    /// `--predict` or `--validate`: the fitted constants on stderr (the table alone on stdout), then the table.
    private func printPredictions(_ rows: [ScalingRow], profiles: [NetworkProfile]) throws {
        let studies = TimeToTarget.studies(rows, profiles: profiles)
        if studies.isEmpty {
            Console.err("airfoil-dp compare: no prediction: no sweep has two or more batch sizes that reached \(target) "
                + "and runs enough for a step-time fit\n")
        }
        for study in studies {
            let model = study.stepTime
            let errors = model.standardErrors ?? []
            func constant(_ value: Double, _ index: Int) -> String {
                String(format: "%.3g", value) + (index < errors.count ? String(format: " (±%.2g)", errors[index]) : "")
            }
            let allreduce: String
            switch model.allreduce {
            case .fitted(let alpha, let error, _):
                allreduce = String(format: "alpha log2 N, alpha %.3g", alpha) + (error.map { String(format: " (±%.2g)", $0) } ?? "")
                    + " s fitted to the runs"
            case .profiled(let profiles):
                allreduce = "from the network profile at \(profiles.map { String($0.ranks) }.joined(separator: ",")) ranks"
                    + (model.allreduceBytes.map { " for \($0) bytes" } ?? " (the logs do not say the bytes: none)")
            case .unknown:
                allreduce = "unknown: no run at 2 ranks or more and no --network, so only 1 rank is predicted"
            }
            let factor = study.steps.noiseBatchFactor.map { String(format: " x/÷ %.3g", $0) } ?? ""
            Console.err("airfoil-dp compare: \(study.series) in \(study.folder.isEmpty ? "." : study.folder): "
                + "T(N, B) = \(constant(model.fixedSeconds, 0)) + \(constant(model.secondsPerExample, 1)) ceil(B/N) + A(N) "
                + "s per step (\(model.runs) runs, ranks \(model.rankCounts.map(String.init).joined(separator: ","))), "
                + "A(N) \(allreduce); "
                + String(format: "S(B) = %.4g (1 + %.4g%@ / B) steps to %g; start-up %.3g s", study.steps.minimumSteps,
                         study.steps.noiseBatch, factor, target, study.startSeconds) + "\n")
        }
        if leaveOneOut {
            let checks = TimeToTarget.validation(
                rows, holdingOut: holdOut, profiles: profiles, ranks: try Self.positiveList(ranks, "--ranks"),
                batches: try Self.positiveList(batches, "--batches"))
            Console.out(try format.render(checks: checks, target: target))
        } else {
            let predictions = TimeToTarget.predictions(
                rows, ranks: try Self.positiveList(ranks, "--ranks"), batches: try Self.positiveList(batches, "--batches"),
                profiles: profiles)
            Console.out(try format.render(predictions: predictions, target: target))
        }
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
