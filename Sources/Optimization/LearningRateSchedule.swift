import Common
import Foundation

/// How the learning rate moves over a run (d2l 11.11), with an optional linear warmup.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    /// The shape of the schedule after warmup.
    public enum Kind: String, CaseIterable, Codable, Sendable {
        /// The base rate throughout.
        case constant
        /// `base * factor^t` for step `t`, never below `minimum`.
        case factor
        /// `base * factor^k`, where `k` counts the milestones (epochs) passed.
        case multifactor
        /// From `base` to `minimum` along half a cosine over the steps after warmup.
        case cosine
    }

    /// The shape.
    public var kind: Kind = .constant
    /// The multiplier of `factor` (per step) and `multifactor` (per milestone).
    public var factor: Double = 1
    /// Epochs at which `multifactor` multiplies by `factor`.
    public var milestones: [Int] = []
    /// The floor of `factor` and the end of `cosine`.
    public var minimum: Double = 0
    /// Steps of linear warmup from `base / warmupSteps` up to `base`.
    public var warmupSteps: Int = 0

    /// Creates a schedule.
    public init(kind: Kind = .constant, factor: Double = 1, milestones: [Int] = [], minimum: Double = 0,
                warmupSteps: Int = 0) {
        self.kind = kind
        self.factor = factor
        self.milestones = milestones
        self.minimum = minimum
        self.warmupSteps = warmupSteps
    }

    /// True when the rate never changes (so the trainer need not compute it per step).
    public var isConstant: Bool { kind == .constant && warmupSteps == 0 }

    /// The rate for the update at `step` (0-based), in `epoch`, of a run of `totalSteps`.
    public func rate(base: Double, step: Int, epoch: Int, totalSteps: Int) -> Double {
        if step < warmupSteps { return base * Double(step + 1) / Double(warmupSteps) }
        let after = step - warmupSteps
        switch kind {
        case .constant:
            return base
        case .factor:
            return max(minimum, base * pow(factor, Double(after)))
        case .multifactor:
            return base * pow(factor, Double(milestones.filter { epoch >= $0 }.count))
        case .cosine:
            // The last update (step totalSteps - 1) uses the minimum, as d2l's CosineScheduler ends at final_lr.
            let span = max(totalSteps - warmupSteps - 1, 1)
            let progress = min(Double(after) / Double(span), 1)
            return minimum + (base - minimum) * (1 + cos(Double.pi * progress)) / 2
        }
    }

    /// Values that make no schedule.
    public var problems: [String] {
        var found: [String] = []
        if !(factor > 0 && factor.isFinite) { found.append("\(Setting.scheduleFactor) must be a positive number (got \(factor))") }
        if kind == .factor && factor > 1 { found.append("\(Setting.scheduleFactor) above 1 would grow the rate without bound") }
        if !(minimum >= 0 && minimum.isFinite) { found.append("\(Setting.minimumRate) must be a non-negative number (got \(minimum))") }
        if warmupSteps < 0 { found.append("\(Setting.warmupSteps) must not be negative (got \(warmupSteps))") }
        if milestones.contains(where: { $0 <= 0 }) { found.append("\(Setting.milestones) must be positive epochs") }
        return found
    }
}

/// Scales a learning rate tuned at one global batch to another (Goyal et al. 2017, "Accurate, Large Minibatch
/// SGD": linear scaling with warmup).
public enum LearningRateScaling: String, CaseIterable, Codable, Sendable {
    /// `lr * batch / baseBatch`.
    case linear
    /// `lr * sqrt(batch / baseBatch)`.
    case sqrt
    /// The rate as given.
    case none
    /// The rate times AdaScale's gain ratio, recomputed every step from the noise scale's estimates
    /// (``GradientNoiseScale/gain(batch:baseBatch:)``); the schedule's clock then advances by the gain per step.
    case adascale

    /// The scaled rate, capped at `maximum` when one is given.
    public func scale(_ rate: Double, batch: Int, baseBatch: Int, maximum: Double?) -> Double {
        let ratio = Double(batch) / Double(baseBatch)
        let scaled = switch self {
        case .linear: rate * ratio
        case .sqrt: rate * ratio.squareRoot()
        case .none, .adascale: rate
        }
        return maximum.map { min($0, scaled) } ?? scaled
    }
}
