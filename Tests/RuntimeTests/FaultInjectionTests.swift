import Common
import Runtime
import Testing

@Suite("Fault injection")
struct FaultInjectionTests {
    @Test("AIRFOIL_DP_FAULT is read as <point>@<rank>; anything else is a usage error naming the value")
    func faultVariable() throws {
        #expect(try FaultInjection.fromEnvironment([:]) == nil)
        #expect(try FaultInjection.fromEnvironment(["AIRFOIL_DP_FAULT": "perturb-replica@3"])
            == FaultInjection(point: .perturbReplica, rank: 3))
        #expect(try FaultInjection.fromEnvironment(["AIRFOIL_DP_FAULT": "miscount-batch@1"])
            == FaultInjection(point: .miscountBatch, rank: 1))
        for bad in ["perturb-replica", "nothing@1", "stop-loading@-1", "stop-loading@x", "stop-loading@1@2", "miscount-batch"] {
            #expect {
                try FaultInjection.fromEnvironment(["AIRFOIL_DP_FAULT": bad])
            } throws: { error in
                (error as? JobFailure)?.kind == .usage && (error as? JobFailure)?.message.contains("'\(bad)'") == true
            }
        }
    }
}
