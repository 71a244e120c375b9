import Common
import Foundation

/// A fault one rank injects on purpose, so that tests and `scripts/chaos.sh` can see the failure paths work:
/// `AIRFOIL_DP_FAULT=<point>@<rank>` in the environment of every rank (a debug variable; docs/failures.md
/// lists it). Unset, nothing is injected and the trainer pays one nil test per hook, never per step.
public struct FaultInjection: Equatable, Sendable {
    /// Where the fault strikes.
    public enum Point: String, CaseIterable, Sendable {
        /// Nudges one parameter by one ulp before the final replica check, which must then fail on every rank.
        case perturbReplica = "perturb-replica"
        /// Stops the rank (SIGSTOP) just before it reads its shard: the others wait in the loading collectives.
        case stopLoading = "stop-loading"
        /// Stops the rank (SIGSTOP) just before the final replica check.
        case stopFinalCheck = "stop-final-check"
        /// Counts one row too many in the rank's share of every step, as a rank with another plan would: the
        /// allreduced row count then differs from the plan's, and every rank must end at step 0.
        case miscountBatch = "miscount-batch"
        /// Takes a batch one larger (or one smaller) than the batch schedule decides at each adjustment: the ranks'
        /// comparison of their decisions must then end the run on every rank.
        case perturbBatch = "perturb-batch"
    }

    /// The environment variable read by ``fromEnvironment()``.
    public static let variable = "AIRFOIL_DP_FAULT"

    public var point: Point
    public var rank: Int

    public init(point: Point, rank: Int) {
        self.point = point
        self.rank = rank
    }

    /// The fault `AIRFOIL_DP_FAULT` asks for, nil when it is unset or empty.
    /// - Throws: ``JobFailure`` of kind `.usage` naming the value when it is not `<point>@<rank>`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> FaultInjection? {
        guard let value = environment[variable], !value.isEmpty else { return nil }
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let point = Point(rawValue: String(parts[0])), let rank = Int(parts[1]), rank >= 0
        else {
            throw JobFailure(.usage, "\(variable)='\(value)' is not <point>@<rank> with a point among "
                + Point.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return FaultInjection(point: point, rank: rank)
    }

    /// Stops this process if the fault is `point` on `rank`; it runs on only when someone sends SIGCONT.
    public func stopIfDue(_ point: Point, rank: Int) {
        if isDue(point, rank: rank) { raise(SIGSTOP) }
    }

    /// True when the fault is `point` on `rank`.
    public func isDue(_ point: Point, rank: Int) -> Bool { self.point == point && self.rank == rank }
}
