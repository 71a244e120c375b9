import Comparison
import Formats
import Foundation
import Testing

/// Synthetic logs in the trainer's schema, so the expected figures are known exactly.
func syntheticLog(ranks: Int, batch: Int, secPerEpoch: Double, losses: [Double] = [0.48, 0.3, 0.25, 0.245],
                  lr: Double = 0.4, summary: Bool = true, resumedOn: Int? = nil, noiseScales: [Double]? = nil,
                  endReason: String? = nil, stepSeconds: (compute: Double, allreduce: Double)? = nil,
                  allreduceBytes: Int? = nil) -> String {
    let resume = resumedOn.map {
        [#"{"checkpoint":"c","checkpoint_ranks":\#(ranks),"examples":200,"hosts":[],"ranks":\#($0),"start_time":"t","step":1,"type":"resume"}"#]
    } ?? []
    let header = #"{"config":{"epochs":2,"global_batch":\#(batch),"rows":1500,"seed":0,"preset":"minibatch100","optimizer":{"kind":"sgd","learning_rate":\#(lr)},"effective_learning_rate":\#(lr),"log_path":"x\#(ranks).jsonl"},"hosts":[{"name":"a","ranks":[0]}],"ranks":\#(ranks),"schema":1,"type":"header"}"#
    let evals = losses.enumerated().map { index, loss in
        // Each logged noise scale x with the interval x/2 to 2x.
        let noise = noiseScales.map {
            #""noise_scale":\#($0[index]),"noise_scale_hi":\#($0[index] * 2),"noise_scale_lo":\#($0[index] / 2),"#
        } ?? ""
        return #"{"epoch":\#(Double(index) * 0.1),"examples":\#(index * 200),"loss":\#(loss),"lr":\#(lr),\#(noise)"step":\#(index),"train_seconds":\#(Double(index) * 0.5),"type":"eval","wall_seconds":\#(Double(index))}"#
    }
    let perStep = stepSeconds.map { #""step_seconds":{"allreduce":\#($0.allreduce),"compute":\#($0.compute)},"# } ?? ""
    let bytes = allreduceBytes.map { #""allreduce_bytes":\#($0),"# } ?? ""
    let end = #"{\#(perStep)\#(bytes)"examples":3000,"examples_per_sec":\#(3000 / (2 * secPerEpoch)),"final_loss":\#(losses.last!),"params":[0],"sec_per_epoch":\#(secPerEpoch),"seconds":{"allreduce":\#(secPerEpoch / 2),"compute":\#(secPerEpoch * 1.5),"eval":0,"load":0},"replicas_identical":true,"steps":30,"type":"summary"}"#
    // A run that stopped early ends with the trainer's end record instead of the summary.
    let stop = endReason.map { reason in
        let lastFinite = reason == "diverged" ? #""last_finite_loss":\#(losses.last!),"# : ""
        return #"{\#(lastFinite)"message":"stopped","reason":"\#(reason)","step":\#(losses.count + 1),"type":"end"}"#
    }
    let ending = stop.map { [$0] } ?? (summary ? [end] : [])
    return ([header] + evals.prefix(2) + resume + evals.dropFirst(2) + ending).joined(separator: "\n") + "\n"
}

@Suite("Reading run logs for compare")
struct RunLogParserTests {
    @Test("a complete log gives its figures, and the time to reach the target loss")
    func completeLog() throws {
        let run = try RunLogParser.parse(Data(syntheticLog(ranks: 2, batch: 100, secPerEpoch: 2).utf8), source: "a",
                                         target: 0.25).get()
        #expect(run.ranks == 2 && run.globalBatch == 100 && run.perRankBatch == 50)
        #expect(run.finalLoss == 0.245 && run.secondsPerEpoch == 2 && run.examplesPerSecond == 750)
        #expect(run.secondsToTarget == 1.0)
        #expect(run.allreduceShare == 0.25)
        let unreached = try RunLogParser.parse(Data(syntheticLog(ranks: 2, batch: 100, secPerEpoch: 2).utf8),
                                               source: "a", target: 0.1).get()
        #expect(unreached.secondsToTarget == nil)
    }

    @Test("a run that diverged or was interrupted is a result: its status, the step it stopped at, its last finite loss, no times")
    func stoppedRuns() throws {
        let log = syntheticLog(ranks: 2, batch: 100, secPerEpoch: 2, losses: [0.48, 0.3, 0.25, 0.7], endReason: "diverged")
        let run = try RunLogParser.parse(Data(log.utf8), source: "d", target: 0.25).get()
        #expect(run.status == "diverged" && !run.finished && run.stoppedAtStep == 5 && run.finalLoss == 0.7)
        #expect(run.secondsPerEpoch == nil && run.examplesPerSecond == nil && run.secondsPerStep == nil)
        #expect(run.stepsToTarget == 2, "it touched the target before diverging")
        let interrupted = try RunLogParser.parse(
            Data(syntheticLog(ranks: 1, batch: 10, secPerEpoch: 1, losses: [0.48, 0.3, 0.27], endReason: "interrupted").utf8),
            source: "i", target: 0.25).get()
        #expect(interrupted.status == "interrupted" && interrupted.finalLoss == 0.27 && interrupted.stepsToTarget == nil)
        let finished = try RunLogParser.parse(Data(syntheticLog(ranks: 1, batch: 10, secPerEpoch: 1).utf8), source: "f",
                                              target: 0.25).get()
        #expect(finished.status == "finished" && finished.stoppedAtStep == nil)
        for format in TableFormat.allCases {
            let table = try format.render(ScalingAnalysis.rows([run, interrupted, finished]), target: 0.25)
            #expect(table.contains("diverged") && table.contains("interrupted") && table.contains("finished"), "\(format)")
        }
        let json = try TableFormat.json.render(ScalingAnalysis.rows([run]), target: 0.25)
        let object = try #require((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])?.first)
        #expect(object["status"] as? String == "diverged" && object["stopped_at_step"] as? Int == 5)
        #expect(object["sec_per_epoch"] is NSNull && object["time_to_target"] as? Double == 1.0)
    }

    @Test("incomplete, foreign, other-schema, damaged and empty logs are refused with a reason",
          arguments: [
              (syntheticLog(ranks: 1, batch: 10, secPerEpoch: 1, summary: false), "incomplete"),
              ("hello\n", "not a JSON object"),
              (#"{"type":"eval"}"# + "\n", "header"),
              (syntheticLog(ranks: 1, batch: 10, secPerEpoch: 1).replacingOccurrences(of: #""schema":1"#, with: #""schema":7"#), "schema 7"),
              (String(syntheticLog(ranks: 1, batch: 10, secPerEpoch: 1).dropLast(40)), "not a JSON object"),
              ("", "header"),
              (syntheticLog(ranks: 1, batch: 10, secPerEpoch: 1).replacingOccurrences(of: #""ranks":1,"#, with: ""), "missing"),
          ])
    func refused(text: String, reason: String) {
        switch RunLogParser.parse(Data(text.utf8), source: "f", target: 0.25) {
        case .success: Issue.record("accepted a bad log")
        case .failure(let problem): #expect(problem.reason.contains(reason), "\(problem.reason)")
        }
    }

    @Test("random damage to a log never crashes the reader")
    func damagedLogs() {
        let original = Array(syntheticLog(ranks: 4, batch: 100, secPerEpoch: 1).utf8)
        var state: UInt64 = 99
        for _ in 0..<2000 {
            var bytes = original
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let at = Int(state >> 33) % bytes.count
            switch state % 3 {
            case 0: bytes = Array(bytes.prefix(at))
            case 1: bytes[at] ^= UInt8(truncatingIfNeeded: state >> 20)
            default: bytes.insert(0, at: at)
            }
            _ = RunLogParser.parse(Data(bytes), source: "fuzz", target: 0.25)
        }
    }
}

@Suite("Where the loss crossed the target")
struct TargetCrossingTests {
    private func eval(_ step: Int, _ loss: Double) -> EvalRecord {
        EvalRecord(step: step, epoch: 0, examples: step * 100, trainSeconds: Double(step) * 0.01, wallSeconds: 0,
                   loss: loss, lr: 0.1)
    }

    @Test("between two evaluations the crossing is where the log-loss line meets the target")
    func interpolated() throws {
        // ln 0.4 to ln 0.1 in 10 steps: ln 0.2 is half-way.
        let crossing = try #require(TargetCrossing.find(in: [eval(0, 0.8), eval(10, 0.4), eval(20, 0.1)], target: 0.2))
        #expect(abs(crossing.step - 15) < 1e-12 && abs(crossing.seconds - 0.15) < 1e-12)
        #expect(abs(crossing.examples - 1500) < 1e-9 && crossing.resolution == 10)
        // A quarter of the way in log-loss: 0.4 * (0.1 / 0.4)^0.25.
        let quarter = try #require(TargetCrossing.find(in: [eval(4, 0.4), eval(8, 0.1)], target: 0.4 * pow(0.25, 0.25)))
        #expect(abs(quarter.step - 5) < 1e-12 && quarter.resolution == 4)
    }

    @Test("an evaluation exactly at the target, the first evaluation, a zero loss and no crossing")
    func edges() throws {
        #expect(TargetCrossing.find(in: [eval(0, 0.5), eval(5, 0.25)], target: 0.25)?.step == 5)
        let first = try #require(TargetCrossing.find(in: [eval(0, 0.2), eval(5, 0.1)], target: 0.25))
        #expect(first.step == 0 && first.seconds == 0 && first.examples == 0 && first.resolution == 0)
        #expect(TargetCrossing.find(in: [eval(0, 0.5), eval(10, 0)], target: 0.25)?.step == 5, "linear in the loss")
        #expect(TargetCrossing.find(in: [eval(0, 0.5), eval(10, 0.3)], target: 0.25) == nil)
        #expect(TargetCrossing.find(in: [], target: 0.25) == nil)
    }
}

@Suite("Scaling figures")
struct ScalingAnalysisTests {
    private func run(_ ranks: Int, _ batch: Int, _ secPerEpoch: Double, folder: String = "f", lr: Double = 0.4,
                     resumedOn: Int? = nil, losses: [Double] = [0.48, 0.3, 0.25, 0.245]) throws -> RunRecord {
        try RunLogParser.parse(Data(syntheticLog(ranks: ranks, batch: batch, secPerEpoch: secPerEpoch, losses: losses,
                                                 lr: lr, resumedOn: resumedOn).utf8),
                               source: "\(folder)/B\(batch)-P\(ranks).jsonl", target: 0.25).get()
    }

    @Test("strong scaling: speedup and efficiency against the smallest rank count of the same global batch")
    func strong() throws {
        let rows = ScalingAnalysis.rows([try run(4, 100, 1), try run(1, 100, 3), try run(2, 100, 2)])
        #expect(rows.map(\.run.ranks) == [1, 2, 4])
        #expect(rows.map(\.scaling) == ["strong", "strong", "strong"])
        #expect(rows.map { $0.speedup! } == [1, 1.5, 3])
        #expect(rows.map { $0.efficiency! } == [1, 0.75, 0.75])
        #expect(rows.map(\.weakEfficiency) == [nil, nil, nil])
        #expect(rows.map(\.group) == [1, 1, 1])
    }

    @Test("weak scaling: throughput per rank against the smallest rank count of the same per-rank batch")
    func weak() throws {
        let rows = ScalingAnalysis.rows([try run(1, 10, 1), try run(2, 20, 1), try run(4, 40, 2)])
        #expect(rows.map(\.scaling) == ["weak", "weak", "weak"])
        #expect(rows.map(\.speedup) == [nil, nil, nil])
        #expect(rows.map(\.efficiency) == [nil, nil, nil])
        #expect(rows.map { $0.weakEfficiency! } == [1, 0.5, 0.125])
    }

    @Test("a weak sweep whose global batches overlap forms weak groups, not strong pairs across its series")
    func weakSweepWithSharedGlobalBatches() throws {
        // Per-rank 10 and 20 at 1, 2 and 4 ranks: global 20 and 40 each occur twice.
        let runs = try [(1, 10), (2, 20), (4, 40), (1, 20), (2, 40), (4, 80)].map { try run($0.0, $0.1, 1) }
        let rows = ScalingAnalysis.rows(runs)
        #expect(rows.allSatisfy { $0.scaling == "weak" }, "\(rows.map(\.scaling))")
        #expect(Set(rows.compactMap(\.group)) == [1, 2])
        #expect(rows.filter { $0.group == 1 }.map(\.run.perRankBatch) == [10, 10, 10])
        let forcedStrong = ScalingAnalysis.rows(runs, mode: .strong)
        #expect(forcedStrong.filter { $0.scaling == "strong" }.map(\.run.globalBatch).sorted() == [20, 20, 40, 40])
    }

    @Test("runs of the same configuration in two folders form a group per folder and are named apart")
    func foldersAreNotMerged() throws {
        let rows = ScalingAnalysis.rows([try run(1, 100, 2, folder: "a"), try run(2, 100, 1, folder: "a"),
                                         try run(1, 100, 4, folder: "b"), try run(2, 100, 1, folder: "b")])
        #expect(rows.map(\.group) == [1, 1, 2, 2])
        #expect(rows.map { $0.speedup! } == [1, 2, 1, 4])
        #expect(rows.map(\.label) == ["sgd lr 0.4, in a", "sgd lr 0.4, in a", "sgd lr 0.4, in b", "sgd lr 0.4, in b"])
    }

    @Test("a learning-rate sweep is labelled by its rates; a run resumed at another rank count is mixed and in no group")
    func labelsAndMixedRuns() throws {
        let rows = ScalingAnalysis.rows([try run(1, 100, 2, lr: 0.1), try run(2, 100, 1, lr: 0.1),
                                         try run(1, 100, 2, lr: 0.2), try run(4, 100, 1, lr: 0.2, resumedOn: 2)])
        #expect(Set(rows.map(\.label)) == ["sgd lr 0.1", "sgd lr 0.2"])
        let mixed = try #require(rows.first { $0.run.ranks == 4 })
        #expect(mixed.scaling == "mixed" && mixed.group == nil && mixed.speedup == nil)
        #expect(mixed.run.rankSegments == [4, 2])
        #expect(rows.filter { $0.scaling == "strong" }.count == 2, "only the lr 0.1 pair is a group")
        let csv = try TableFormat.csv.render(rows, target: 0.25)
        #expect(csv.contains(",4+2,"), "\(csv)")
    }

    @Test("a figure that is not finite (a speedup over a zero time) is null in JSON, never an empty output")
    func infiniteFigureIsNull() throws {
        // A run too short for the clock: zero seconds (its log then writes examples_per_sec 0).
        let instant = syntheticLog(ranks: 2, batch: 100, secPerEpoch: 0)
            .replacingOccurrences(of: #""examples_per_sec":inf"#, with: #""examples_per_sec":0"#)
        let zeroTime = try RunLogParser.parse(Data(instant.utf8), source: "f/B100-P2.jsonl", target: 0.25).get()
        let rows = ScalingAnalysis.rows([try run(1, 100, 1), zeroTime])
        let speedups = rows.compactMap(\.speedup)
        #expect(speedups.contains { !$0.isFinite }, "\(speedups)")
        let json = try TableFormat.json.render(rows, target: 0.25)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(objects.count == 2)
        #expect(objects.contains { $0["speedup"] is NSNull && ($0["ranks"] as? Int) == 2 }, "\(json)")
    }

    @Test("every format has the same columns and units, the target, and no '-' for a missing number")
    func formatsAgree() throws {
        let rows = ScalingAnalysis.rows([try run(1, 100, 1), try run(2, 100, 1),
                                         try run(4, 7, 1, losses: [0.48, 0.3])])
        let headers = TableFormat.headers
        #expect(headers.contains("target") && headers.contains("weak_efficiency") && headers.contains("label"))
        let csv = try TableFormat.csv.render(rows, target: 0.25).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(csv.count == 4)
        #expect(csv[0] == headers.joined(separator: ","))
        let lonely = try #require(csv.first { $0.contains("B7-P4") }).split(separator: ",", omittingEmptySubsequences: false)
        #expect(lonely.count == headers.count)
        let column = { (name: String) in String(lonely[headers.firstIndex(of: name)!]) }
        #expect(column("time_to_target") == "" && column("speedup") == "" && column("scaling") == "")
        #expect(column("target") == "0.25")
        #expect(column("allreduce_share") == "0.250")
        #expect(!csv.joined().contains(",-,"))
        let markdown = try TableFormat.markdown.render(rows, target: 0.25).split(separator: "\n")
        #expect(markdown.count == 5 && markdown[0].contains("| target |"))
        #expect(!markdown.joined().contains("| - |"))
        let text = try TableFormat.text.render(rows, target: 0.25)
        #expect(text.split(separator: "\n").count == 5 && text.contains("target"))
        let json = try TableFormat.json.render(rows, target: 0.25)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(objects.count == 3)
        #expect(objects.allSatisfy { Set($0.keys) == Set(headers) })
        let lonelyObject = try #require(objects.first { ($0["log"] as? String)?.contains("B7-P4") == true })
        #expect(lonelyObject["time_to_target"] is NSNull && lonelyObject["speedup"] is NSNull)
        #expect(lonelyObject["target"] as? Double == 0.25 && lonelyObject["allreduce_share"] as? Double == 0.25)
    }
}

@Suite("Steps to the target and their fit against batch")
struct BatchSizeFitTests {
    /// McCandlish et al.'s curve at S_min = 100 and B_noise = 256.
    private func steps(_ batch: Double) -> Double { 100 * (1 + 256 / batch) }
    private let batches: [Double] = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]

    @Test("points on the curve give back S_min and B_noise, with no spread")
    func exactCurve() throws {
        let fit = try #require(BatchSizeFit.fit(batches.map { ($0, steps($0)) }))
        #expect(abs(fit.minimumSteps / 100 - 1) < 1e-3 && abs(fit.noiseBatch / 256 - 1) < 1e-3, "\(fit)")
        #expect(abs(fit.minimumExamples / 25_600 - 1) < 2e-3)
        #expect(fit.warning == nil && abs((fit.noiseBatchFactor ?? 0) - 1) < 1e-6)
    }

    @Test("noisy points give B_noise near the truth with an uncertainty above one")
    func noisyCurve() throws {
        let noise: [Double] = [1.06, 0.95, 1.04, 0.97, 1.05, 0.94, 1.03, 0.96, 1.05, 0.97]
        let fit = try #require(BatchSizeFit.fit(zip(batches, noise).map { ($0, steps($0) * $1) }))
        #expect(abs(fit.noiseBatch / 256 - 1) < 0.3, "\(fit)")
        #expect((fit.noiseBatchFactor ?? 0) > 1 && fit.warning == nil)
    }

    @Test("flat steps, steps falling as 1/B and two batch sizes are fitted with a warning; one batch size is not")
    func undetermined() throws {
        let flat = try #require(BatchSizeFit.fit(batches.map { ($0, 50) }))
        #expect(flat.warning?.contains("did not fall") == true && flat.noiseBatchFactor == nil)
        let perfect = try #require(BatchSizeFit.fit(batches.map { ($0, 1e5 / $0) }))
        #expect(perfect.warning?.contains("above the largest batch") == true)
        let two = try #require(BatchSizeFit.fit([(64, steps(64)), (1024, steps(1024))]))
        #expect(two.warning?.contains("two batch sizes") == true && abs(two.noiseBatch / 256 - 1) < 1e-2)
        #expect(BatchSizeFit.fit([(64, 10), (64, 12)]) == nil)
    }

    @Test("compare counts steps and examples to the target; a sweep's fit takes each batch's fewest steps over its rates")
    func sweepsFromLogs() throws {
        func run(_ batch: Int, lr: Double, losses: [Double]) throws -> RunRecord {
            try RunLogParser.parse(Data(syntheticLog(ranks: 1, batch: batch, secPerEpoch: 1, losses: losses, lr: lr).utf8),
                                   source: "f/B\(batch)-lr\(lr).jsonl", target: 0.25).get()
        }
        let reached = try run(100, lr: 0.4, losses: [0.48, 0.3, 0.25, 0.245])
        #expect(reached.stepsToTarget == 2 && reached.examplesToTarget == 400)
        let rows = ScalingAnalysis.rows([
            reached, try run(100, lr: 0.1, losses: [0.48, 0.3, 0.29, 0.25]),
            try run(10, lr: 0.05, losses: [0.48, 0.4, 0.3, 0.29, 0.27, 0.25]),
            try run(1000, lr: 1, losses: [0.48, 0.3, 0.25]),
        ])
        let csv = try TableFormat.csv.render(rows, target: 0.25)
        #expect(csv.split(separator: "\n")[0].contains("steps_to_target,examples_to_target"))
        let fits = BatchSizeSweeps.fits(rows)
        #expect(fits.count == 1 && fits.first?.fit.points == 3 && fits.first?.series == "sgd", "\(fits)")
        let json = try TableFormat.json.render(fits: fits, target: 0.25)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(objects.first?["batch_sizes"] as? Int == 3 && objects.first?["target"] as? Double == 0.25)
    }

    @Test("a run's noise scale is the one logged when it reached the target; the fit shows their median")
    func noiseScaleBesideTheFit() throws {
        func run(_ batch: Int, _ noiseScales: [Double]) throws -> RunRecord {
            let log = syntheticLog(ranks: 1, batch: batch, secPerEpoch: 3, noiseScales: noiseScales)
            return try RunLogParser.parse(Data(log.utf8), source: "f/B\(batch).jsonl", target: 0.25).get()
        }
        let runs = [try run(10, [1, 2, 30, 4]), try run(100, [1, 2, 50, 4]), try run(1000, [1, 2, 60, 4])]
        #expect(runs.map(\.noiseScale) == [30, 50, 60])
        #expect(runs[0].noiseScaleInterval == NoiseScaleInterval(low: 15, high: 60), "the interval logged with it")
        let json = try TableFormat.json.render(ScalingAnalysis.rows(runs), target: 0.25)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(objects.map { $0["noise_scale_lo"] as? Double } == [15, 25, 30])
        #expect(objects.map { $0["noise_scale_hi"] as? Double } == [60, 100, 120])
        #expect(runs[0].secondsPerStep == 3.0 * 2 / 30)
        let unreached = try RunLogParser.parse(
            Data(syntheticLog(ranks: 1, batch: 10, secPerEpoch: 3, noiseScales: [1, 2, 3, 4]).utf8), source: "u",
            target: 0.1).get()
        #expect(unreached.noiseScale == 4, "a run that never reached the target: its last estimate")
        let fits = BatchSizeSweeps.fits(ScalingAnalysis.rows(runs))
        #expect(fits.first?.measuredNoiseScale == 50)
        let text = try TableFormat.text.render(fits: fits, target: 0.25)
        #expect(text.split(separator: "\n")[0].contains("b_simple"))
    }

    @Test("runs that stopped early join no scaling group, fit or plan, even when they touched the target first")
    func stoppedRunsLeftOut() throws {
        func run(_ batch: Int, ranks: Int = 1, lr: Double, losses: [Double], end: String? = nil) throws -> RunRecord {
            try RunLogParser.parse(Data(syntheticLog(ranks: ranks, batch: batch, secPerEpoch: 1, losses: losses, lr: lr,
                                                     endReason: end).utf8),
                                   source: "f/B\(batch)-P\(ranks)-lr\(lr).jsonl", target: 0.25).get()
        }
        let slow = [0.48, 0.4, 0.3, 0.29, 0.27, 0.25]
        let runs = [
            try run(10, lr: 0.05, losses: slow), try run(100, lr: 0.4, losses: [0.48, 0.3, 0.29, 0.25]),
            try run(100, lr: 1.6, losses: [0.48, 0.25, 0.9], end: "diverged"),
            try run(1000, lr: 1, losses: [0.48, 0.3, 0.25]), try run(100, ranks: 2, lr: 0.4, losses: slow, end: "diverged"),
        ]
        let rows = ScalingAnalysis.rows(runs)
        #expect(rows.filter { $0.run.status == "diverged" }.allSatisfy { $0.group == nil && $0.scaling == nil })
        let fits = BatchSizeSweeps.fits(rows)
        let fitted = try #require(fits.first { $0.ranks == 1 })
        #expect(fitted.runs.allSatisfy(\.finished) && fitted.runs.first { $0.globalBatch == 100 }?.stepsToTarget == 3,
                "the diverged run's 1 step to the target is not the batch's fewest")
        #expect(!fits.contains { $0.ranks == 2 })
        #expect(BatchSizePlan.rows(studies: TimeToTarget.studies(rows)).allSatisfy { $0.best?.finished != false })
    }

    @Test("--lr-range: per batch and rank count, the largest rate that finished, the smallest that diverged, the fastest")
    func learningRateRange() throws {
        func run(_ batch: Int, lr: Double, losses: [Double], end: String? = nil) throws -> RunRecord {
            try RunLogParser.parse(Data(syntheticLog(ranks: 2, batch: batch, secPerEpoch: 1, losses: losses, lr: lr,
                                                     endReason: end).utf8),
                                   source: "f/B\(batch)-lr\(lr).jsonl", target: 0.25).get()
        }
        let rows = ScalingAnalysis.rows([
            try run(100, lr: 0.1, losses: [0.48, 0.4, 0.3, 0.26, 0.25]), try run(100, lr: 0.4, losses: [0.48, 0.3, 0.25]),
            try run(100, lr: 0.8, losses: [0.48, 0.6], end: "diverged"), try run(100, lr: 1.6, losses: [0.48, 2], end: "diverged"),
            try run(10, lr: 0.05, losses: [0.48, 0.3, 0.27]),
        ])
        let ranges = LearningRateRange.rows(rows)
        #expect(ranges.map(\.globalBatch) == [10, 100])
        let wide = try #require(ranges.last)
        #expect(wide.runs == 4 && wide.diverged == 2 && wide.largestStableRate == 0.4 && wide.smallestDivergedRate == 0.8)
        #expect(wide.fastest?.learningRate == 0.4 && wide.fastest?.stepsToTarget == 2)
        #expect(ranges[0].fastest == nil && ranges[0].smallestDivergedRate == nil && ranges[0].largestStableRate == 0.05)
        let csv = try TableFormat.csv.render(rateRanges: ranges, target: 0.25)
        #expect(csv.split(separator: "\n")[0] == "series,ranks,global_batch,target,runs,diverged,largest_stable_lr,"
            + "smallest_diverged_lr,fastest_lr,fastest_seconds,fastest_steps,folder")
    }
}

@Suite("Predicting time to the target")
struct TimeToTargetTests {
    /// Constants the synthetic runs are made from: T(N, B) = c0 + c1 ceil(B/N) + alpha log2 N,
    /// S(B) = 50 (1 + 64 / B).
    static let c0 = 2e-4, c1 = 3e-6, alpha = 5e-5
    static func compute(_ ranks: Int, _ batch: Int) -> Double { c0 + c1 * Double((batch + ranks - 1) / ranks) }
    static func allreduce(_ ranks: Int) -> Double { alpha * log2(Double(ranks)) }
    static func stepTime(_ ranks: Int, _ batch: Int) -> Double { compute(ranks, batch) + allreduce(ranks) }
    static func curve(_ batch: Int) -> Double { 50 * (1 + 64 / Double(batch)) }

    /// A finished run at (ranks, batch) whose seconds per step are the model's times `noise`, and whose loss meets
    /// 0.25 exactly at step `steps` (the log's 30 steps over 2 epochs: sec_per_epoch = 15 seconds per step).
    static func run(ranks: Int, batch: Int, steps: Int, noise: Double = 1, lr: Double = 0.4) throws -> RunRecord {
        let losses = [0.48] + Array(repeating: 0.3, count: steps - 1) + [0.25]
        let split = (compute: compute(ranks, batch) * noise, allreduce: allreduce(ranks) * noise)
        return try RunLogParser.parse(Data(syntheticLog(ranks: ranks, batch: batch,
                                                        secPerEpoch: (split.compute + split.allreduce) * 15,
                                                        losses: losses, lr: lr, stepSeconds: split,
                                                        allreduceBytes: 4096).utf8),
                                      source: "f/B\(batch)-P\(ranks)-lr\(lr).jsonl", target: 0.25).get()
    }

    @Test("the step-time fit recovers the constants runs were made from, with their errors and prediction error")
    func stepTimeRecovered() throws {
        var runs: [RunRecord] = []
        var state: UInt64 = 7
        for ranks in [1, 2, 4] {
            for batch in [16, 64, 256, 1024] {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let noise = 1 + 0.02 * (Double(state >> 11) / Double(1 << 53) - 0.5)
                runs.append(try Self.run(ranks: ranks, batch: batch, steps: 3, noise: noise))
            }
        }
        let model = try #require(StepTimeModel.fit(runs))
        let errors = try #require(model.standardErrors)
        #expect(model.runs == 12 && model.rankCounts == [1, 2, 4])
        guard case .fitted(let alpha, let alphaError?, _) = model.allreduce else {
            Issue.record("the allreduce is fitted to the runs at 2 and 4 ranks, not \(model.allreduce)")
            return
        }
        let values = [model.fixedSeconds, model.secondsPerExample, alpha]
        let truths = [Self.c0, Self.c1, Self.alpha]
        for (index, error) in (errors + [alphaError]).enumerated() {
            let (value, truth) = (values[index], truths[index])
            #expect(error > 0 && abs(value - truth) < 4 * error, "\(value) against \(truth) ± \(error)")
        }
        let exact = try #require(StepTimeModel.fit(try [1, 2].flatMap { n in
            try [16, 256].map { try Self.run(ranks: n, batch: $0, steps: 3) }
        }))
        // The log rounds sec_per_epoch to what JSON prints; the fit of exact times is exact to that.
        #expect(abs(exact.seconds(ranks: 8, globalBatch: 512) / Self.stepTime(8, 512) - 1) < 1e-9)
        #expect(StepTimeModel.fit([runs[0]]) == nil, "one run cannot fix two constants")
    }

    /// Two rank counts, five batches on the curve, each at two rates (the slower one 1.5 times the steps).
    static func sweep(offCurveBatch: Int? = nil) throws -> [RunRecord] {
        try [1, 2].flatMap { ranks in
            try [16, 32, 64, 128, 256].flatMap { batch -> [RunRecord] in
                let factor = batch == offCurveBatch ? 2.0 : 1.0
                let steps = Int((Self.curve(batch) * factor).rounded())
                return [try run(ranks: ranks, batch: batch, steps: steps),
                        try run(ranks: ranks, batch: batch, steps: steps * 3 / 2, lr: 0.1)]
            }
        }
    }

    @Test("predictions on the curve match the constants, mark what ran and what is extrapolated, in every format")
    func predictions() throws {
        let rows = ScalingAnalysis.rows(try Self.sweep())
        let predictions = TimeToTarget.predictions(rows, ranks: [2, 64], batches: [64, 1024, 2048])
        #expect(predictions.map { "\($0.ranks)x\($0.globalBatch)" } == ["2x64", "2x1024", "64x64", "64x1024"], "2048 is above the 1500 training rows")
        for prediction in predictions {
            let steps = Self.curve(prediction.globalBatch)
            #expect(abs(prediction.predictedSteps / steps - 1) < 0.02, "\(prediction.predictedSteps) against \(steps)")
            #expect(abs(prediction.secondsPerStep / Self.stepTime(prediction.ranks, prediction.globalBatch) - 1) < 1e-6)
            #expect(prediction.extrapolated == !(prediction.ranks == 2 && prediction.globalBatch == 64))
        }
        #expect(predictions[0].measured?.steps == 100 && predictions[1].measured == nil)
        let json = try TableFormat.json.render(predictions: predictions, target: 0.25)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        for key in ["ranks", "global_batch", "predicted_steps", "predicted_seconds", "predicted_seconds_lo",
                    "predicted_seconds_hi", "measured_seconds"] {
            #expect(objects.allSatisfy { $0.keys.contains(key) }, "\(key)")
        }
        #expect(objects[1]["measured_seconds"] is NSNull)
        let oneRankCount = ScalingAnalysis.rows(try Self.sweep().filter { $0.ranks == 1 })
        #expect(TimeToTarget.predictions(oneRankCount, ranks: [1, 2, 8]).allSatisfy { $0.ranks == 1 },
                "no allreduce measured, so no other rank count is predicted")
    }

    @Test("a run whose batch changes is its own series, 'adaptive', and enters no fit, plan, rate range or prediction")
    func adaptiveRunsStayOut() throws {
        func adaptive(_ record: RunRecord) throws -> RunRecord {
            let log = syntheticLog(ranks: record.ranks, batch: record.globalBatch, secPerEpoch: 1,
                                   losses: [0.48, 0.25, 0.2], lr: 0.4)
                .replacingOccurrences(of: #""global_batch":"#,
                                      with: #""batch_schedule":{"every":10,"factor":2,"kind":"noise","multiple":1},"global_batch":"#)
            return try RunLogParser.parse(Data(log.utf8), source: "f/adaptive-\(record.ranks)-\(record.globalBatch).jsonl",
                                          target: 0.25).get()
        }
        let fixed = try Self.sweep()
        let runs = fixed + (try fixed.filter { $0.learningRate == 0.4 }.map(adaptive))
        #expect(runs.last?.adaptsBatch == true && runs.last?.stepsToTarget == 1 && fixed.allSatisfy { !$0.adaptsBatch })
        let rows = ScalingAnalysis.rows(runs)
        let alone = ScalingAnalysis.rows(fixed)
        #expect(rows.filter(\.run.adaptsBatch).allSatisfy { $0.series == ScalingRow.adaptiveSeries })
        #expect(Set(rows.filter { !$0.run.adaptsBatch }.map(\.series)) == Set(alone.map(\.series)))
        let fits = BatchSizeSweeps.fits(rows)
        #expect(fits.map(\.fit) == BatchSizeSweeps.fits(alone).map(\.fit) && !fits.isEmpty)
        #expect(fits.allSatisfy { $0.runs.allSatisfy { !$0.adaptsBatch } })
        #expect(TimeToTarget.studies(rows).map(\.series) == TimeToTarget.studies(alone).map(\.series))
        #expect(TimeToTarget.predictions(rows, ranks: [2], batches: [64]).map(\.predictedSteps)
            == TimeToTarget.predictions(alone, ranks: [2], batches: [64]).map(\.predictedSteps))
        #expect(LearningRateRange.rows(rows).count == LearningRateRange.rows(alone).count)
    }

    @Test("a rate most of whose repeats missed the target is not measured by the one that reached it")
    func censoredRepeats() throws {
        let missed = try RunLogParser.parse(Data(syntheticLog(ranks: 1, batch: 64, secPerEpoch: 1, losses: [0.48, 0.3, 0.3],
                                                              lr: 0.8).utf8), source: "f/B64-lr0.8-r2.jsonl", target: 0.25).get()
        let runs = [try Self.run(ranks: 1, batch: 64, steps: 10, lr: 0.8), missed, missed]
            + (try (0..<3).map { _ in try Self.run(ranks: 1, batch: 64, steps: 20, lr: 0.4) })
        let measured = try #require(TimeToTarget.measure(runs).first)
        #expect(measured.learningRate == 0.4 && measured.steps == 20 && measured.repeats == 3)
        // Repeats that diverged at the fast rate count as missing it too, however early they crossed the target.
        let diverged = try RunLogParser.parse(Data(syntheticLog(ranks: 1, batch: 64, secPerEpoch: 1, losses: [0.48, 0.2, 0.9],
                                                                lr: 0.8, endReason: "diverged").utf8),
                                              source: "f/B64-lr0.8-r3.jsonl", target: 0.25).get()
        #expect(diverged.stepsToTarget != nil, "it crossed the target before it diverged")
        let edge = [try Self.run(ranks: 1, batch: 64, steps: 10, lr: 0.8), diverged, diverged]
            + (try (0..<3).map { _ in try Self.run(ranks: 1, batch: 64, steps: 20, lr: 0.4) })
        #expect(TimeToTarget.measure(edge).first?.learningRate == 0.4)
        let studied = TimeToTarget.studies(ScalingAnalysis.rows(edge + [try Self.run(ranks: 1, batch: 128, steps: 15),
                                                                       try Self.run(ranks: 1, batch: 128, steps: 15)]))
        #expect(studied.first?.measurements.first { $0.globalBatch == 64 }?.learningRate == 0.4,
                "the study sees the diverged repeats")
    }

    @Test("a measurement carries its repeats' noise, and validation reports it before its three closing lines")
    func repeatNoise() throws {
        let runs = try [10, 12, 20].map { try Self.run(ranks: 1, batch: 64, steps: $0) }
        let measured = try #require(TimeToTarget.measure(runs).first)
        #expect(measured.steps == 12)
        // |10/12 - 1|, 0, |20/12 - 1|: the median is 1/6.
        #expect(abs(try #require(measured.stepsSpread) - 1.0 / 6) < 1e-12)
        #expect(TimeToTarget.measure([runs[0]]).first?.stepsSpread == nil, "one repeat has no spread")
        let repeated = try [16, 32, 64, 128].flatMap { batch in
            try [1.0, 1.1, 1.3].map { factor in
                try Self.run(ranks: 1, batch: batch, steps: Int((Self.curve(batch) * factor).rounded()))
            }
        }
        let checks = TimeToTarget.validation(ScalingAnalysis.rows(repeated))
        let text = try TableFormat.text.render(checks: checks, target: 0.25).split(separator: "\n").suffix(5)
        #expect(text.map { String($0.prefix { $0 != ":" }) }
            == ["repeat_noise_steps", "repeat_noise", "median_abs_error_steps", "median_abs_error", "interval_coverage"])
        let noise = try #require(Double(text.first!.split(separator: " ").last!))
        #expect(abs(noise - 0.1) < 0.01, "|1/1.1 - 1| and |1.3/1.1 - 1| about 0.09 and 0.18, the median 0.09")
    }

    @Test("the plan picks the batch predicted soonest, a power of two nobody ran included, within the swept range")
    func plan() throws {
        // S(B) T(N, B) is least near B = sqrt(64 c0 / c1), about 65 at one rank: 64 lies between the swept 48 and 80.
        let runs = try [1, 2].flatMap { ranks in
            try [16, 48, 80, 256].map { batch in
                try Self.run(ranks: ranks, batch: batch, steps: Int(Self.curve(batch).rounded()))
            }
        }
        let studies = TimeToTarget.studies(ScalingAnalysis.rows(runs))
        let study = try #require(studies.first)
        let plan = BatchSizePlan.rows(studies: studies)
        #expect(plan.map(\.ranks) == [1, 2])
        let candidates = [16, 32, 48, 64, 80, 128, 256]
        for row in plan {
            func predicted(_ batch: Int) -> Double {
                study.startSeconds + study.steps.steps(batch: Double(batch))
                    * study.stepTime.seconds(ranks: row.ranks, globalBatch: batch)
            }
            let expected = candidates.min { predicted($0) < predicted($1) }!
            #expect(row.batch == expected, "\(row.batch), expected \(expected)")
            #expect(abs(row.predictedSeconds - predicted(expected)) < 1e-12)
            #expect(row.swept == [16, 48, 80, 256].contains(row.batch) && (row.measuredSeconds != nil) == row.swept)
            #expect(row.best?.ranks == row.ranks && row.best?.globalBatch == 256, "the fewest steps, so the soonest")
        }
        #expect(plan.first?.batch == 64 && plan.first?.swept == false, "\(plan.map(\.batch))")
        let csv = try TableFormat.csv.render(plan: plan, target: 0.25)
        #expect(csv.split(separator: "\n")[0] == "series,ranks,target,batch,swept,predicted_steps,sec_per_step,"
            + "predicted_seconds,measured_seconds,error,best_batch,best_lr,best_seconds,folder")
    }

    @Test("leave one batch out: a batch off the curve is predicted from the others, not from itself")
    func validation() throws {
        let onCurve = TimeToTarget.validation(ScalingAnalysis.rows(try Self.sweep()))
        #expect(onCurve.count == 10 && onCurve.allSatisfy { abs($0.stepsError) < 0.02 }, "\(onCurve.map(\.stepsError))")
        // Batch 64 took twice its steps: left out, the fit of the others predicts the curve, half what it measured.
        let checks = TimeToTarget.validation(ScalingAnalysis.rows(try Self.sweep(offCurveBatch: 64)))
        let held = checks.filter { $0.prediction.globalBatch == 64 }
        #expect(held.count == 2 && held.allSatisfy { abs($0.stepsError + 0.5) < 0.03 }, "\(held.map(\.stepsError))")
        #expect(held.allSatisfy { $0.measured.learningRate == 0.4 }, "the rate with the fewest steps")
        let text = try TableFormat.text.render(checks: checks, target: 0.25).split(separator: "\n")
        #expect(text.suffix(3).map { String($0.prefix { $0 != ":" }) }
            == ["median_abs_error_steps", "median_abs_error", "interval_coverage"])
        #expect(text.last?.hasSuffix("/10") == true)
    }

    @Test("a network profile gives the allreduce: 2 ranks predicted from runs at 1, other rank counts along log2 N")
    func networkProfile() throws {
        let oneRank = ScalingAnalysis.rows(try Self.sweep().filter { $0.ranks == 1 })
        // 4096 bytes lie 3/7 of the way from 1024 to 8192: the sizes' times are chosen to give alpha there.
        let profile = NetworkProfile(ranks: 2, hosts: 1, sizes: [.init(bytes: 1024, medianSeconds: 0),
                                                                 .init(bytes: 8192, medianSeconds: Self.alpha * 7 / 3)],
                                     machine: "test", mpi: "test", measuredAt: "now")
        #expect(abs(profile.seconds(bytes: 4096) / Self.alpha - 1) < 1e-12)
        let predictions = TimeToTarget.predictions(oneRank, ranks: [1, 2, 8], batches: [64], profiles: [profile])
        #expect(predictions.map(\.ranks) == [1, 2, 8])
        for prediction in predictions {
            #expect(abs(prediction.secondsPerStep / Self.stepTime(prediction.ranks, 64) - 1) < 1e-9,
                    "\(prediction.ranks) ranks: \(prediction.secondsPerStep) against \(Self.stepTime(prediction.ranks, 64))")
        }
        // Held out by rank count: without a profile 2 ranks cannot be predicted from 1; with it, exactly.
        let rows = ScalingAnalysis.rows(try Self.sweep())
        let unprofiled = TimeToTarget.validation(rows, holdingOut: .ranks)
        #expect(unprofiled.count == 5 && unprofiled.allSatisfy { $0.measured.ranks == 1 })
        let twoRanks = TimeToTarget.validation(rows, holdingOut: .ranks, profiles: [profile], ranks: [2], batches: [16, 64])
        #expect(twoRanks.map { "\($0.measured.ranks)x\($0.measured.globalBatch)" } == ["2x16", "2x64"])
        let profiled = TimeToTarget.validation(rows, holdingOut: .ranks, profiles: [profile])
        // (The synthetic logs' clock does not follow their step times, so seconds per step is what is compared.)
        #expect(profiled.count == 10 && profiled.allSatisfy {
            abs($0.prediction.secondsPerStep / Self.stepTime($0.measured.ranks, $0.measured.globalBatch) - 1) < 1e-9
                && abs($0.stepsError) < 0.02
        }, "\(profiled.map(\.prediction.secondsPerStep))")
        // A profile twice as slow is what the 2-rank prediction uses, not the runs' own allreduce.
        var slow = profile
        slow.sizes[1].medianSeconds *= 2
        let slowed = TimeToTarget.validation(rows, holdingOut: .ranks, profiles: [slow]).filter { $0.measured.ranks == 2 }
        for check in slowed {
            let batch = check.measured.globalBatch
            #expect(abs(check.prediction.secondsPerStep - (Self.stepTime(2, batch) + Self.alpha)) < 1e-12)
        }
    }

    @Test("a network profile file round-trips, and a bad field, version or checksum is refused with one line")
    func networkProfileFile() throws {
        let profile = NetworkProfile(ranks: 4, hosts: 2, sizes: [.init(bytes: 16, medianSeconds: 1e-6),
                                                                 .init(bytes: 64, medianSeconds: 2e-6)],
                                     machine: "cpu", mpi: "Open MPI", measuredAt: "2026-12-06T00:00:00Z")
        let bytes = try profile.encoded()
        #expect(try NetworkProfile.decode(bytes, source: "p") == profile)
        #expect(profile.seconds(bytes: 8) == 1e-6 && profile.seconds(bytes: 40) == 1.5e-6 && profile.seconds(bytes: 112) == 3e-6)
        func refusal(_ edit: (inout NetworkProfile) -> Void) -> String {
            var changed = profile
            edit(&changed)
            do {
                _ = try NetworkProfile.decode(try changed.encoded(), source: "p")
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(refusal { $0.ranks = 1 }.contains("field 'ranks' is 1"))
        #expect(refusal { $0.hosts = 5 }.contains("field 'hosts' is 5"))
        #expect(refusal { $0.sizes.reverse() }.contains("not in increasing bytes"))
        #expect(refusal { $0.sizes[0].medianSeconds = -1 }.contains("sizes[0].median_seconds"))
        #expect(refusal { $0.sizes = [] }.contains("field 'sizes' is empty"))
        var damaged = bytes
        damaged[damaged.count - 3] ^= 1
        #expect(throws: (any Error).self) { try NetworkProfile.decode(damaged, source: "p") }
        let otherVersion = Array(String(decoding: bytes, as: UTF8.self)
            .replacingOccurrences(of: "network \(NetworkProfile.formatVersion) ", with: "network 9 ").utf8)
        #expect(throws: (any Error).self) { try NetworkProfile.decode(otherVersion, source: "p") }
    }
}
