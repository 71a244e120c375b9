import Foundation
import Formats

/// Where a run's loss first reached a target: between the last evaluation above it and the first at or below it,
/// the loss is taken as falling exponentially in steps (its logarithm linear), the shape of a loss curve between
/// nearby evaluations, so the step, seconds and examples of the crossing are interpolated there. Without it a
/// run's steps to the target could only be a multiple of its evaluation interval, which quantises every fit and
/// prediction made from them.
public struct TargetCrossing: Equatable, Sendable {
    public var step: Double
    public var seconds: Double
    public var examples: Double
    /// Steps between the two evaluations around the crossing: how finely the evaluations resolved it (0 when the
    /// first evaluation already met the target).
    public var resolution: Int

    /// The first crossing of `target` in `evals` (in the log's order), nil when no evaluation reached it.
    public static func find(in evals: [EvalRecord], target: Double) -> TargetCrossing? {
        guard let index = evals.firstIndex(where: { $0.loss <= target }) else { return nil }
        let reached = evals[index]
        guard index > 0, evals[index - 1].step < reached.step else {
            return TargetCrossing(step: Double(reached.step), seconds: reached.trainSeconds,
                                  examples: Double(reached.examples), resolution: 0)
        }
        let before = evals[index - 1]
        let fraction = fractionOfTheWay(from: before.loss, to: reached.loss, target: target)
        func between(_ start: Double, _ end: Double) -> Double { start + fraction * (end - start) }
        return TargetCrossing(
            step: between(Double(before.step), Double(reached.step)),
            seconds: between(before.trainSeconds, reached.trainSeconds),
            examples: between(Double(before.examples), Double(reached.examples)),
            resolution: reached.step - before.step)
    }

    /// How far from `above` to `atOrBelow` the loss meets `target`, in 0...1: linear in the logarithm of the loss
    /// where both losses are positive and finite, else linear in the loss.
    static func fractionOfTheWay(from above: Double, to atOrBelow: Double, target: Double) -> Double {
        guard above > target else { return 0 }
        if atOrBelow > 0, above.isFinite {
            return min(1, (log(above) - log(target)) / (log(above) - log(atOrBelow)))
        }
        return min(1, (above - target) / (above - atOrBelow))
    }
}
