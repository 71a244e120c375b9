import CKernelSupport

// d2l chapter 11's update rules, written once and compiled per instruction set like the GEMM's tiles: the
// optimizer's pass over every parameter is the step's largest cost at small batches. Every operation is the
// scalar rule's, lane by lane (no fused multiply-add), so every instruction set gives the same bits.

/// The update rules (the optimizer's kinds, as the kernels see them).
public enum UpdateRule: Sendable {
    case sgd, momentum, nag, adagrad, rmsprop, adadelta, adam
}

/// One step's scalars: the learning rate, the gradient's scale (1 / batch), weight decay, the rules'
/// hyperparameters and Adam's bias corrections for this step.
public struct UpdateConstants: Sendable {
    public var rate, scale, decay, momentum, gamma1, rho, beta1, beta2, epsilon, correction1, correction2: Float

    public init(
        rate: Float, scale: Float, decay: Float, momentum: Float, gamma1: Float, rho: Float, beta1: Float, beta2: Float,
        epsilon: Float, correction1: Float, correction2: Float
    ) {
        self.rate = rate
        self.scale = scale
        self.decay = decay
        self.momentum = momentum
        self.gamma1 = gamma1
        self.rho = rho
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.correction1 = correction1
        self.correction2 = correction2
    }
}

/// Applies `rule` to `count` parameters, eight at a time (the last group zero-padded).
@inlinable @inline(__always)
public func applyUpdate(
    _ rule: UpdateRule, _ constants: UpdateConstants, weights: UnsafeMutablePointer<Float>,
    gradientSum: UnsafePointer<Float>, first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>,
    count: Int
) {
    let plainSGD = rule == .sgd && constants.momentum == 0
    if plainSGD && count < 8 {
        // Fewer weights than lanes (the linear model's seven): one by one, the lanes' operations, before any set-up.
        for index in 0..<count {
            let sum = gradientSum[index] * constants.scale
            let g = constants.decay == 0 ? sum : sum + constants.decay * weights[index]
            weights[index] -= constants.rate * g
        }
        return
    }
    typealias Lanes = SIMD8<Float>
    let rate = Lanes(repeating: constants.rate)
    let scale = Lanes(repeating: constants.scale)
    let decay = Lanes(repeating: constants.decay)
    let momentum = Lanes(repeating: constants.momentum), gamma1 = Lanes(repeating: constants.gamma1)
    let rho = Lanes(repeating: constants.rho)
    let beta1 = Lanes(repeating: constants.beta1), beta2 = Lanes(repeating: constants.beta2)
    let epsilon = Lanes(repeating: constants.epsilon)
    let one = Lanes(repeating: 1)
    // Adam divides by its bias corrections through their reciprocals: one division per lane instead of three (the
    // divider bounded the update, most of the MLP's one-example step).
    let inverseCorrection1 = Lanes(repeating: 1 / constants.correction1)
    let inverseCorrection2 = Lanes(repeating: 1 / constants.correction2)
    var start = 0
    while start < count {
        let lanes = min(8, count - start)
        var w = loadLanes(weights + start, lanes)
        let sum = loadLanes(gradientSum + start, lanes)
        let g = constants.decay == 0 ? sum * scale : sum * scale + decay * w
        var s1 = plainSGD ? Lanes() : loadLanes(first + start, lanes)
        var s2 = Lanes()
        switch rule {
        case .sgd where plainSGD:
            w -= rate * g
        case .sgd, .momentum:
            s1 = momentum * s1 + g
            w -= rate * s1
        case .nag:
            s1 = momentum * s1 + g
            w -= rate * (g + momentum * s1)
        case .adagrad:
            s1 += g * g
            w -= rate * g / kernels_sqrt8(s1 + epsilon)
        case .rmsprop:
            s1 = gamma1 * s1 + (one - gamma1) * g * g
            w -= rate * g / kernels_sqrt8(s1 + epsilon)
        case .adadelta:
            s2 = loadLanes(second + start, lanes)
            s1 = rho * s1 + (one - rho) * g * g
            let change = kernels_sqrt8((s2 + epsilon) / (s1 + epsilon)) * g
            w -= rate * change
            s2 = rho * s2 + (one - rho) * change * change
        case .adam:
            s2 = loadLanes(second + start, lanes)
            s1 = beta1 * s1 + (one - beta1) * g
            s2 = beta2 * s2 + (one - beta2) * g * g
            let corrected = s1 * inverseCorrection1
            w -= rate * corrected / (kernels_sqrt8(s2 * inverseCorrection2) + epsilon)
        }
        storeLanes(w, weights + start, lanes)
        if !plainSGD { storeLanes(s1, first + start, lanes) }
        if rule == .adadelta || rule == .adam { storeLanes(s2, second + start, lanes) }
        start += lanes
    }
}

/// `lanes` floats from `pointer`, the rest zero.
@inlinable @inline(__always)
public func loadLanes(_ pointer: UnsafePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self) }
    var value = SIMD8<Float>()
    for lane in 0..<lanes { value[lane] = pointer[lane] }
    return value
}

@inlinable @inline(__always)
public func loadLanes(_ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    loadLanes(UnsafePointer(pointer), lanes)
}

/// Stores the first `lanes` lanes of `value` at `pointer`.
@inlinable @inline(__always)
public func storeLanes(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
    } else {
        for lane in 0..<lanes { pointer[lane] = value[lane] }
    }
}
