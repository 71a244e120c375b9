import Common
import Foundation

/// `--batch-schedule`: a global batch that changes during the run (absent from a configuration: the fixed batch).
///
/// `noise` follows the gradient noise scale `B_simple` (``GradientNoiseScale``), which grows as the loss falls: every
/// ``every`` steps the batch moves toward ``multiple`` times the smoothed `B_simple`, by at most ``factor`` either
/// way, within ``minimum`` ... ``maximum``. `warmup` is a plain ramp from ``start`` to ``end`` over ``rampSteps``
/// steps, for comparison. Each decision is a function of values every rank shares (the step, the allreduced noise
/// estimates, the current batch), so every rank takes it alike; the trainer still checks that they did.
///
/// The batch moves in steps of a *granularity*: the rank count in the default mode (every rank fills its share of
/// every step), 1 with `--reproducible`, which draws each step's rows from all shards.
public struct BatchSchedule: Codable, Equatable, Sendable {
    /// The rule.
    public enum Kind: String, Codable, Sendable {
        /// Toward a multiple of the smoothed noise scale.
        case noise
        /// A linear ramp from one batch to another.
        case warmup
    }

    public var kind: Kind
    /// Steps between adjustments (the batch is decided after each `every`-th step).
    public var every: Int = 10
    /// `noise`: the target batch as a multiple of the smoothed `B_simple`.
    public var multiple: Double?
    /// `noise`: the most one adjustment multiplies or divides the batch by.
    public var factor: Double?
    /// `noise`: the smallest and largest batch (nil: twice the granularity and the training rows).
    public var minimum: Int?
    public var maximum: Int?
    /// `warmup`: the first and last batch and the steps between them.
    public var start: Int?
    public var end: Int?
    public var rampSteps: Int?

    /// Creates a schedule; the options of the other rule stay nil.
    public init(kind: Kind, every: Int = 10, multiple: Double? = nil, factor: Double? = nil, minimum: Int? = nil,
                maximum: Int? = nil, start: Int? = nil, end: Int? = nil, rampSteps: Int? = nil) {
        self.kind = kind
        self.every = every
        self.multiple = multiple
        self.factor = factor
        self.minimum = minimum
        self.maximum = maximum
        self.start = start
        self.end = end
        self.rampSteps = rampSteps
    }

    /// The `noise` rule with its defaults: every 10 steps, toward 1 x `B_simple`, by at most a factor of 2.
    public static let noise = BatchSchedule(kind: .noise, multiple: 1, factor: 2)

    /// Reads `--batch-schedule`'s value: `fixed` (nil), `noise`, or `warmup:B0:B1:STEPS`.
    /// - Throws: ``JobFailure`` of kind `.usage` naming the value.
    public static func parse(_ text: String) throws -> BatchSchedule? {
        if text == "fixed" { return nil }
        if text == "noise" { return .noise }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "warmup", let start = Int(parts[1]), let end = Int(parts[2]),
              let steps = Int(parts[3])
        else {
            throw JobFailure(.usage, "\(Setting.batchSchedule) '\(text)' is not fixed, noise or warmup:B0:B1:STEPS")
        }
        return BatchSchedule(kind: .warmup, start: start, end: end, rampSteps: steps)
    }

    /// The values that make no schedule, one line each.
    public var problems: [String] {
        var found: [String] = []
        if every <= 0 { found.append("\(Setting.batchEvery) must be positive (got \(every))") }
        switch kind {
        case .noise:
            if multiple == nil || factor == nil { found.append("\(Setting.batchSchedule) noise needs its multiple and factor") }
            if let multiple, !(multiple > 0 && multiple.isFinite) {
                found.append("\(Setting.batchMultiple) must be a positive number (got \(multiple))")
            }
            if let factor, !(factor > 1 && factor.isFinite) {
                found.append("\(Setting.batchFactor) must be a number above 1 (got \(factor))")
            }
            if let minimum, minimum <= 0 { found.append("\(Setting.minimumBatch) must be positive (got \(minimum))") }
            if let minimum, let maximum, maximum < minimum {
                found.append("\(Setting.maximumBatch) \(maximum) is below \(Setting.minimumBatch) \(minimum)")
            }
        case .warmup:
            if start == nil || end == nil || rampSteps == nil {
                found.append("\(Setting.batchSchedule) warmup needs its first and last batch and its steps")
            }
            if let start, start <= 0 { found.append("\(Setting.batchSchedule) warmup's first batch must be positive") }
            if let end, end <= 0 { found.append("\(Setting.batchSchedule) warmup's last batch must be positive") }
            if let rampSteps, rampSteps <= 0 { found.append("\(Setting.batchSchedule) warmup's steps must be positive") }
        }
        return found
    }

    /// The batch after the adjustment that follows step `step` (steps taken so far, a multiple of ``every``).
    ///
    /// `current` is the batch of the last step and `granularity` the rank count (1 with `--reproducible`). A `noise`
    /// target is `multiple x B_simple` from the smoothed estimates; while the smoothed `|G|^2` is not positive the
    /// noise hides the gradient and the target is the maximum; before any estimate the batch stays. The result is
    /// a multiple of `granularity` within the factor of `current` and within the bounds (rounded inward to
    /// multiples), and at least twice the granularity: the estimate needs two rows in each rank's share (in the
    /// default mode; two in the batch with `--reproducible`), and a batch without it would never move again. When
    /// no multiple lies there, the batch stays.
    public func batch(after step: Int, current: Int, noise: GradientNoiseScale?, granularity: Int, rows: Int) -> Int {
        switch kind {
        case .warmup:
            let start = Double(start!), end = Double(end!)
            let progress = min(Double(step) / Double(rampSteps!), 1)
            return fitted(start + (end - start) * progress, granularity: granularity, rows: rows)
        case .noise:
            guard let noise, let traceSigma = noise.traceSigma, let squaredNorm = noise.squaredNorm else {
                return current
            }
            let limit = Double(min(maximum ?? rows, rows))
            let target = squaredNorm > 0 ? min(multiple! * traceSigma / squaredNorm, limit) : limit
            guard target.isFinite else { return current }
            let grain = Double(granularity)
            let low = max((Double(current) / factor! / grain).rounded(.up), max((Double(minimum ?? 0) / grain).rounded(.up), 2))
            let high = min((Double(current) * factor! / grain).rounded(.down), (limit / grain).rounded(.down))
            guard low <= high else { return current }
            return Int(min(max((target / grain).rounded(), low), high)) * granularity
        }
    }

    /// `batch` as one of this schedule's batches at `granularity`: the nearest multiple of it, at least the
    /// granularity (`noise`: twice it, for the noise estimate) and at most the training `rows`. A resume at another
    /// rank count refits the checkpoint's batch so.
    public func fitted(_ batch: Double, granularity: Int, rows: Int) -> Int {
        let largest = max(rows / granularity, 1)
        let smallest = min(kind == .noise ? 2 : 1, largest)
        // In multiples, clamped as Doubles: a batch past Int's range (a ramp to 2^63 - 1) converts safely.
        let multiples = (batch / Double(granularity)).rounded()
        return Int(min(max(multiples.isNaN ? 0 : multiples, Double(smallest)), Double(largest))) * granularity
    }

    /// The largest batch the schedule can reach from `current` (for buffers sized before the first step): the
    /// maximum, or the ramp's larger end.
    public func largestBatch(from current: Int, granularity: Int, rows: Int) -> Int {
        switch kind {
        case .noise: max(current, maximum ?? rows)
        case .warmup: max(current, fitted(Double(max(start!, end!)), granularity: granularity, rows: rows))
        }
    }
}

/// Where an adaptive run stands between steps, as checkpoints carry it: the batch of the next step, the position in
/// the epoch (slots, that is examples, since the batch changes) and the learning-rate schedule's clock.
public struct BatchScheduleState: Codable, Equatable, Sendable {
    /// The global batch of the next step.
    public var globalBatch: Int
    /// The epoch's slots already used (the examples of the epoch so far).
    public var slotInEpoch: Int
    /// The learning-rate schedule's clock in steps of the base batch: it advances by AdaScale's gain per step
    /// (`--scale-lr adascale`), else by `batch / base batch`.
    public var rateClock: Double

    public init(globalBatch: Int, slotInEpoch: Int, rateClock: Double) {
        self.globalBatch = globalBatch
        self.slotInEpoch = slotInEpoch
        self.rateClock = rateClock
    }
}
