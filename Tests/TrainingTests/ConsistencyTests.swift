import Common
import Foundation
import MPI
import TestSupport
import Testing
import Training

/// A one-rank collective whose step allreduce miscounts: it adds one row to the last element of every `Float`
/// reduction (the step's row count), as a rank that took a different share of the batch would.
private struct MiscountingCollective: Collective {
    let base = SingleProcess()
    var rank: Int { base.rank }
    var size: Int { base.size }
    func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws {
        values[values.count - 1] += 1
    }
    func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws {}
    func allreduce(_ values: UnsafeMutableBufferPointer<Int64>, _ operation: ReduceOperation) throws {}
    func broadcast(_ bytes: inout [UInt8], root: Int) throws {}
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    func barrier() throws {}
    func abort(code: Int32) -> Never { exit(code) }
}

@Suite("Consistency checks between ranks")
struct ConsistencyTests {
    @Test("ranks whose shares do not add up to the step's batch end the run with exit code 70 and an end record")
    func batchMismatch() throws {
        let logPath = try SharedData.temporaryDirectory().appendingPathComponent("run.jsonl").path
        do {
            try TrainingJob.run(
                TrainingConfiguration(dataPath: SharedData.path, preset: .minibatch10, logPath: logPath,
                                      progress: .never),
                collective: MiscountingCollective(), versions: [:], quiet: true)
            Issue.record("a miscounted batch was accepted")
        } catch let failure as JobFailure {
            #expect(failure.exitCode == 70)
            #expect(failure.message.contains("ranks disagree on step 0's batch"), "\(failure.message)")
        }
        let end = try RunLogReader.records(at: logPath).last
        #expect(end?["type"] as? String == "end")
        #expect(end?["reason"] as? String == "batch_mismatch")
        #expect(end?["step"] as? Int == 0)
    }

    @Test("AIRFOIL_DP_FAULT is read as <point>@<rank>; anything else is a usage error naming the value")
    func faultVariable() throws {
        #expect(try FaultInjection.fromEnvironment([:]) == nil)
        #expect(try FaultInjection.fromEnvironment(["AIRFOIL_DP_FAULT": "perturb-replica@3"])
            == FaultInjection(point: .perturbReplica, rank: 3))
        for bad in ["perturb-replica", "nothing@1", "stop-loading@-1", "stop-loading@x", "stop-loading@1@2"] {
            #expect {
                try FaultInjection.fromEnvironment(["AIRFOIL_DP_FAULT": bad])
            } throws: { error in
                (error as? JobFailure)?.kind == .usage && (error as? JobFailure)?.message.contains("'\(bad)'") == true
            }
        }
    }
}
