import Foundation

/// The gradient noise scale `B_simple = tr(Sigma) / |G|^2` (McCandlish et al. 2018), estimated from what each step's
/// one allreduce already carries.
///
/// `tr(Sigma)` is the per-example gradient variance of the sampling the run does: each rank draws its share from its
/// own shard, so it is the variance within shards. A rank splits its share of `n` rows (n >= 2) into halves of `h1`
/// and `h2` rows with mean gradients `g1` and `g2`. The halves are disjoint random draws from the shard, so
/// `E|g1 - g2|^2 = tr(Sigma) (1/h1 + 1/h2)`: `t = |g1 - g2|^2 / (1/h1 + 1/h2)` is unbiased. The rank appends `n t` and
/// `n` to its gradient sum, and the allreduce returns their sums, whose ratio estimates `tr(Sigma)` averaged over
/// shards as the global batch weights them. Within an epoch rows are drawn without replacement, so the global
/// batch's mean gradient `G_B` (B rows of N) has `E|G_B|^2 = |G|^2 + tr(Sigma) (1 - B/N) / B`, which gives the
/// estimate of `|G|^2`. Both estimates are noisy step by step; each is smoothed on its own by a bias-corrected
/// exponential moving average, and their ratio is the noise scale.
///
/// The interval comes from the same averages of the estimates' squares and product: the steps' scatter gives the
/// variance of each weighted mean (the estimates of different steps come from disjoint draws, so they are treated as
/// independent; the weights of the moving average set how many effectively count), and the delta method on the log
/// of the ratio gives a 90% interval `noise_scale * exp(-+1.645 s)`. It covers the value the averaged steps
/// estimate; while training moves the parameters, that is a mixture over the averaging window, not the value at the
/// last step.
public struct GradientNoiseScale: Codable, Equatable, Sendable {
    /// The moving averages of the estimates of `tr(Sigma)` and `|G|^2`, before bias correction.
    public private(set) var traceAverage = 0.0
    public private(set) var squaredNormAverage = 0.0
    /// The moving averages of their squares and of their product, before bias correction.
    public private(set) var traceSquareAverage = 0.0
    public private(set) var squaredNormSquareAverage = 0.0
    public private(set) var productAverage = 0.0
    /// `1 - decay^k` after `k` estimates: dividing by it removes the averages' bias towards their start at 0.
    public private(set) var weight = 0.0
    /// The sum of the squared weights of the `k` estimates, `(1 - decay)^2 (1 + decay^2 + ...)`: with `weight` it
    /// gives how many estimates effectively count, `weight^2 / weightSquares`.
    public private(set) var weightSquares = 0.0
    /// The normal quantile of the interval's 90% (two-sided).
    public static let intervalQuantile = 1.6448536269514722

    /// An estimator that has seen nothing.
    public init() {}

    /// Adds one step's estimates (skipped when either is not finite) with the averages' `decay`.
    public mutating func add(traceSigma: Double, squaredNorm: Double, decay: Double) {
        guard traceSigma.isFinite && squaredNorm.isFinite else { return }
        let share = 1 - decay
        traceAverage = decay * traceAverage + share * traceSigma
        squaredNormAverage = decay * squaredNormAverage + share * squaredNorm
        traceSquareAverage = decay * traceSquareAverage + share * traceSigma * traceSigma
        squaredNormSquareAverage = decay * squaredNormSquareAverage + share * squaredNorm * squaredNorm
        productAverage = decay * productAverage + share * traceSigma * squaredNorm
        weight = decay * weight + share
        weightSquares = decay * decay * weightSquares + share * share
    }

    /// The smoothed `tr(Sigma)`, once a step has given an estimate.
    public var traceSigma: Double? { weight > 0 ? traceAverage / weight : nil }
    /// The smoothed `|G|^2`, once a step has given an estimate.
    public var squaredNorm: Double? { weight > 0 ? squaredNormAverage / weight : nil }
    /// `tr(Sigma) / |G|^2`, while the smoothed `|G|^2` is positive (near a minimum the noise can hide it).
    public var noiseScale: Double? {
        guard let traceSigma, let squaredNorm, squaredNorm > 0 else { return nil }
        return traceSigma / squaredNorm
    }

    /// The 90% interval around ``noiseScale``, once two steps have given estimates (one has no scatter) and while
    /// the ratio exists.
    public var noiseScaleInterval: (low: Double, high: Double)? {
        guard let noiseScale, let traceSigma, let squaredNorm, traceSigma > 0 else { return nil }
        // The weighted means' variances: the unbiased weighted (co)variance of the steps times weightSquares /
        // weight^2, which together is the raw (co)variance times weightSquares / (weight^2 - weightSquares).
        let effective = weight * weight - weightSquares
        guard effective > 0 else { return nil }
        let factor = weightSquares / effective
        let traceVariance = max(traceSquareAverage / weight - traceSigma * traceSigma, 0) * factor
        let normVariance = max(squaredNormSquareAverage / weight - squaredNorm * squaredNorm, 0) * factor
        let covariance = (productAverage / weight - traceSigma * squaredNorm) * factor
        let logVariance = traceVariance / (traceSigma * traceSigma) + normVariance / (squaredNorm * squaredNorm)
            - 2 * covariance / (traceSigma * squaredNorm)
        let spread = Self.intervalQuantile * max(logVariance, 0).squareRoot()
        guard spread.isFinite else { return nil }
        return (noiseScale * exp(-spread), noiseScale * exp(spread))
    }

    /// AdaScale's gain ratio (Johnson et al. 2020) of a step of `batch` examples over one of `baseBatch`:
    /// `r = (|G|^2 + tr(Sigma) / baseBatch) / (|G|^2 + tr(Sigma) / batch)`, from the smoothed estimates. It lies
    /// between 1 and `batch / baseBatch` (1 when the gradient dominates the noise, the ratio of batches when the noise
    /// does); a smoothed `|G|^2` below zero counts as zero. 1 before any estimate.
    public func gain(batch: Int, baseBatch: Int) -> Double {
        guard let traceSigma, let squaredNorm else { return 1 }
        let signal = max(squaredNorm, 0)
        let ratio = Double(batch) / Double(baseBatch)
        let gain = (signal + traceSigma / Double(baseBatch)) / (signal + traceSigma / Double(batch))
        guard gain.isFinite else { return 1 }
        return min(max(gain, min(1, ratio)), max(1, ratio))
    }

    /// Why a stored estimator cannot be continued, if it cannot (a checkpoint's is untrusted input).
    public var problem: String? {
        let fields = [traceAverage, squaredNormAverage, traceSquareAverage, squaredNormSquareAverage, productAverage,
                      weight, weightSquares]
        guard fields.allSatisfy(\.isFinite) else { return "is not finite" }
        // Each step's tr(Sigma) estimate is a squared norm, so their average is never negative (|G|^2's can be);
        // averages of squares never are.
        guard traceAverage >= 0 else { return "has a negative tr(Sigma) average, \(traceAverage)" }
        guard traceSquareAverage >= 0, squaredNormSquareAverage >= 0 else { return "has a negative average square" }
        guard (0...1).contains(weight) else { return "has weight \(weight), outside 0..1" }
        // Each weight is at most 1, so the squares sum to no more than the weights.
        return (0...weight).contains(weightSquares) ? nil : "has weight_squares \(weightSquares), outside 0..weight"
    }

    /// Adds the second half's gradient sum `secondHalf` into the first half's, `sum` (both `count` floats), making
    /// it the share's gradient sum, and returns the share's `n t` from the halves' means.
    public static func mergeHalves(
        _ sum: UnsafeMutablePointer<Float>, _ secondHalf: UnsafePointer<Float>, count: Int, firstRows: Int,
        secondRows: Int
    ) -> Double {
        let first = Float(1) / Float(firstRows)
        let second = Float(1) / Float(secondRows)
        typealias Vector = SIMD16<Float>
        var squares = Vector()
        var index = 0
        while index + 16 <= count {
            let offset = index * 4
            let one = UnsafeRawPointer(sum).loadUnaligned(fromByteOffset: offset, as: Vector.self)
            let other = UnsafeRawPointer(secondHalf).loadUnaligned(fromByteOffset: offset, as: Vector.self)
            let difference = one * first - other * second
            squares += difference * difference
            UnsafeMutableRawPointer(sum).storeBytes(of: one + other, toByteOffset: offset, as: Vector.self)
            index += 16
        }
        var total = Double(squares.sum())
        while index < count {
            let difference = Double(sum[index] * first - secondHalf[index] * second)
            total += difference * difference
            sum[index] += secondHalf[index]
            index += 1
        }
        // |g1 - g2|^2 / (1/h1 + 1/h2) = |g1 - g2|^2 h1 h2 / n, times n.
        return total * Double(firstRows) * Double(secondRows)
    }

    /// `|v|^2` of `count` floats, accumulated in sixteen lanes.
    public static func squaredNorm(_ values: UnsafePointer<Float>, count: Int) -> Double {
        typealias Vector = SIMD16<Float>
        var squares = Vector()
        var index = 0
        while index + 16 <= count {
            let value = UnsafeRawPointer(values).loadUnaligned(fromByteOffset: index * 4, as: Vector.self)
            squares += value * value
            index += 16
        }
        var total = Double(squares.sum())
        while index < count {
            total += Double(values[index]) * Double(values[index])
            index += 1
        }
        return total
    }
}
