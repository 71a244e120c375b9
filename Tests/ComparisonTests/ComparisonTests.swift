import Comparison
import Foundation
import Testing

/// Synthetic logs in the trainer's schema, so the expected figures are known exactly.
func syntheticLog(ranks: Int, batch: Int, secPerEpoch: Double, losses: [Double] = [0.48, 0.3, 0.249, 0.245],
                  lr: Double = 0.4, summary: Bool = true, resumedOn: Int? = nil) -> String {
    let resume = resumedOn.map {
        [#"{"checkpoint":"c","checkpoint_ranks":\#(ranks),"examples":200,"hosts":[],"ranks":\#($0),"start_time":"t","step":1,"type":"resume"}"#]
    } ?? []
    let header = #"{"config":{"epochs":2,"global_batch":\#(batch),"rows":1500,"seed":0,"preset":"minibatch100","optimizer":{"kind":"sgd","learning_rate":\#(lr)},"effective_learning_rate":\#(lr),"log_path":"x\#(ranks).jsonl"},"hosts":[{"name":"a","ranks":[0]}],"ranks":\#(ranks),"schema":1,"type":"header"}"#
    let evals = losses.enumerated().map { index, loss in
        #"{"epoch":\#(Double(index) * 0.1),"examples":\#(index * 200),"loss":\#(loss),"lr":\#(lr),"step":\#(index),"train_seconds":\#(Double(index) * 0.5),"type":"eval","wall_seconds":\#(Double(index))}"#
    }
    let end = #"{"examples":3000,"examples_per_sec":\#(3000 / (2 * secPerEpoch)),"final_loss":\#(losses.last!),"params":[0],"sec_per_epoch":\#(secPerEpoch),"seconds":{"allreduce":\#(secPerEpoch / 2),"compute":\#(secPerEpoch * 1.5),"eval":0,"load":0},"replicas_identical":true,"steps":30,"type":"summary"}"#
    return ([header] + evals.prefix(2) + resume + evals.dropFirst(2) + (summary ? [end] : [])).joined(separator: "\n") + "\n"
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

@Suite("Scaling figures")
struct ScalingAnalysisTests {
    private func run(_ ranks: Int, _ batch: Int, _ secPerEpoch: Double, folder: String = "f", lr: Double = 0.4,
                     resumedOn: Int? = nil, losses: [Double] = [0.48, 0.3, 0.249, 0.245]) throws -> RunRecord {
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
        let csv = TableFormat.csv.render(rows, target: 0.25)
        #expect(csv.contains(",4+2,"), "\(csv)")
    }

    @Test("every format has the same columns and units, the target, and no '-' for a missing number")
    func formatsAgree() throws {
        let rows = ScalingAnalysis.rows([try run(1, 100, 1), try run(2, 100, 1),
                                         try run(4, 7, 1, losses: [0.48, 0.3])])
        let headers = TableFormat.headers
        #expect(headers.contains("target") && headers.contains("weak_efficiency") && headers.contains("label"))
        let csv = TableFormat.csv.render(rows, target: 0.25).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(csv.count == 4)
        #expect(csv[0] == headers.joined(separator: ","))
        let lonely = try #require(csv.first { $0.contains("B7-P4") }).split(separator: ",", omittingEmptySubsequences: false)
        #expect(lonely.count == headers.count)
        let column = { (name: String) in String(lonely[headers.firstIndex(of: name)!]) }
        #expect(column("time_to_target") == "" && column("speedup") == "" && column("scaling") == "")
        #expect(column("target") == "0.25")
        #expect(column("allreduce_share") == "0.250")
        #expect(!csv.joined().contains(",-,"))
        let markdown = TableFormat.markdown.render(rows, target: 0.25).split(separator: "\n")
        #expect(markdown.count == 5 && markdown[0].contains("| target |"))
        #expect(!markdown.joined().contains("| - |"))
        let text = TableFormat.text.render(rows, target: 0.25)
        #expect(text.split(separator: "\n").count == 5 && text.contains("target"))
        let json = TableFormat.json.render(rows, target: 0.25)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(objects.count == 3)
        #expect(objects.allSatisfy { Set($0.keys) == Set(headers) })
        let lonelyObject = try #require(objects.first { ($0["log"] as? String)?.contains("B7-P4") == true })
        #expect(lonelyObject["time_to_target"] is NSNull && lonelyObject["speedup"] is NSNull)
        #expect(lonelyObject["target"] as? Double == 0.25 && lonelyObject["allreduce_share"] as? Double == 0.25)
    }
}
