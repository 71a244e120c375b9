#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KernelCore

/// LARS and LAMB: rules whose step depends on norms of whole layers (a layer's weights and, apart, its bias).
///
/// The norms come from the parameters and the allreduced gradient, which every rank holds, so they cost no message.
/// Ranks in the default mode may run different kernel sets (each its fastest), and their replicas must stay
/// identical, so these rules are not kernels: they are compiled once, in this module, for the baseline CPU, with
/// every operation the scalar rule's lane by lane (no fused multiply-add) and the norms summed in eight Double lanes
/// added in one fixed order, the same bits on every CPU.
///
/// Exclusion rule, as in the papers' implementations (You et al. 2017 for LARS, 2020 for LAMB): a layer's bias
/// takes a trust ratio of 1 and no weight decay; the linear model is one layer of weights plus its bias.
final class LayerwiseUpdate {
    private let kind: OptimizerKind
    private let layers: [(weights: Range<Int>, bias: Range<Int>)]
    private let momentum, wd, beta1, beta2, epsilon: Float
    private let eta: Double
    private let correctionBase1, correctionBase2: Double

    init(settings: OptimizerSettings, count: Int, layers: [(weights: Range<Int>, bias: Range<Int>)]) {
        precondition(settings.kind == .lars || settings.kind == .lamb, "only LARS and LAMB work layer by layer")
        precondition(layers.allSatisfy { $0.weights.upperBound == $0.bias.lowerBound && $0.bias.upperBound <= count })
        kind = settings.kind
        self.layers = layers
        momentum = Float(settings.momentum)
        wd = Float(settings.wd)
        beta1 = Float(settings.beta1)
        beta2 = Float(settings.beta2)
        epsilon = Float(settings.epsilon)
        eta = settings.eta ?? 0
        correctionBase1 = settings.beta1
        correctionBase2 = settings.beta2
    }

    /// One step of the rule over every layer: `gradientSum * gradientScale` is the mean gradient; `updates` counts
    /// this one (LAMB's bias correction).
    func update(
        _ weights: UnsafeMutablePointer<Float>, gradientSum: UnsafePointer<Float>, gradientScale: Float,
        learningRate: Float, first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>, updates: Int
    ) {
        let scale = Lanes(repeating: gradientScale)
        let rate = Lanes(repeating: learningRate)
        for layer in layers {
            switch kind {
            case .lars:
                // trust = eta |w| / (|g| + wd |w| + epsilon) over the weights.
                var squares = (weights: DoubleLanes(), gradient: DoubleLanes())
                forEachLanes(layer.weights) { start, lanes in
                    let w = DoubleLanes(loadLanes(weights + start, lanes))
                    let g = DoubleLanes(loadLanes(gradientSum + start, lanes) * scale)
                    squares.weights += w * w
                    squares.gradient += g * g
                }
                let weightNorm = squares.weights.sum().squareRoot()
                let gradientNorm = squares.gradient.sum().squareRoot()
                let trust = weightNorm > 0 && gradientNorm > 0
                    ? eta * weightNorm / (gradientNorm + Double(wd) * weightNorm + Double(epsilon)) : 1
                larsStep(layer.weights, weights, gradientSum, first, scale: scale,
                         rate: rate * Lanes(repeating: Float(trust)), decay: Lanes(repeating: wd))
                larsStep(layer.bias, weights, gradientSum, first, scale: scale, rate: rate, decay: Lanes())
            case .lamb:
                let inverse1 = Lanes(repeating: 1 / (1 - Float(pow(correctionBase1, Double(updates)))))
                let inverse2 = Lanes(repeating: 1 / (1 - Float(pow(correctionBase2, Double(updates)))))
                // First pass: the moments and the direction's norm; the direction is recomputed in the second
                // from the stored moments (the same operations, so the same bits), which saves a buffer.
                var squares = (weights: DoubleLanes(), direction: DoubleLanes())
                forEachLanes(layer.weights) { start, lanes in
                    let w = loadLanes(weights + start, lanes)
                    let u = lambDirection(start, lanes, w, gradientSum, first, second, scale: scale,
                                          inverse1: inverse1, inverse2: inverse2, decay: Lanes(repeating: wd),
                                          updatesMoments: true)
                    squares.weights += DoubleLanes(w) * DoubleLanes(w)
                    squares.direction += DoubleLanes(u) * DoubleLanes(u)
                }
                let weightNorm = squares.weights.sum().squareRoot()
                let directionNorm = squares.direction.sum().squareRoot()
                let trust = Lanes(repeating: weightNorm > 0 && directionNorm > 0 ? Float(weightNorm / directionNorm) : 1)
                forEachLanes(layer.weights) { start, lanes in
                    let w = loadLanes(weights + start, lanes)
                    let u = lambDirection(start, lanes, w, gradientSum, first, second, scale: scale,
                                          inverse1: inverse1, inverse2: inverse2, decay: Lanes(repeating: wd),
                                          updatesMoments: false)
                    storeLanes(w - rate * trust * u, weights + start, lanes)
                }
                forEachLanes(layer.bias) { start, lanes in
                    let w = loadLanes(weights + start, lanes)
                    let u = lambDirection(start, lanes, w, gradientSum, first, second, scale: scale,
                                          inverse1: inverse1, inverse2: inverse2, decay: Lanes(), updatesMoments: true)
                    storeLanes(w - rate * u, weights + start, lanes)
                }
            default:
                preconditionFailure("only LARS and LAMB work layer by layer")
            }
        }
    }

    /// LARS's step over `range`: `v = momentum v + rate (g + decay w); w -= v`.
    @inline(__always)
    private func larsStep(
        _ range: Range<Int>, _ weights: UnsafeMutablePointer<Float>, _ gradientSum: UnsafePointer<Float>,
        _ velocity: UnsafeMutablePointer<Float>, scale: Lanes, rate: Lanes, decay: Lanes
    ) {
        let momentum = Lanes(repeating: momentum)
        forEachLanes(range) { start, lanes in
            let w = loadLanes(weights + start, lanes)
            let v = momentum * loadLanes(velocity + start, lanes) + rate * (loadLanes(gradientSum + start, lanes) * scale + decay * w)
            storeLanes(v, velocity + start, lanes)
            storeLanes(w - v, weights + start, lanes)
        }
    }

    /// LAMB's direction `m^ / (sqrt(v^) + epsilon) + decay w` for the lanes at `start`, after updating the moments
    /// (`m = beta1 m + (1 - beta1) g`, `v = beta2 v + (1 - beta2) g^2`) when `updatesMoments`, else from them as
    /// stored.
    @inline(__always)
    private func lambDirection(
        _ start: Int, _ lanes: Int, _ w: Lanes, _ gradientSum: UnsafePointer<Float>, _ first: UnsafeMutablePointer<Float>,
        _ second: UnsafeMutablePointer<Float>, scale: Lanes, inverse1: Lanes, inverse2: Lanes, decay: Lanes,
        updatesMoments: Bool
    ) -> Lanes {
        var m = loadLanes(first + start, lanes)
        var v = loadLanes(second + start, lanes)
        if updatesMoments {
            let g = loadLanes(gradientSum + start, lanes) * scale
            let one = Lanes(repeating: 1)
            let beta1 = Lanes(repeating: beta1), beta2 = Lanes(repeating: beta2)
            m = beta1 * m + (one - beta1) * g
            v = beta2 * v + (one - beta2) * g * g
            storeLanes(m, first + start, lanes)
            storeLanes(v, second + start, lanes)
        }
        return (m * inverse1) / ((v * inverse2).squareRoot() + Lanes(repeating: epsilon)) + decay * w
    }
}

private typealias Lanes = SIMD8<Float>
private typealias DoubleLanes = SIMD8<Double>

/// Calls `body` with the start and width of each group of eight (the last one shorter) in `range`.
@inline(__always)
private func forEachLanes(_ range: Range<Int>, _ body: (Int, Int) -> Void) {
    var start = range.lowerBound
    while start < range.upperBound {
        let lanes = min(8, range.upperBound - start)
        body(start, lanes)
        start += lanes
    }
}
