import Common
/// Applies one of d2l chapter 11's update rules to the parameters, with its state in buffers allocated once.
///
/// Every rank applies the same rule to the same allreduced gradient, so parameters and state stay identical
/// across ranks without any communication of state.
public final class Optimizer {
    /// The rule and its hyperparameters.
    public let settings: OptimizerSettings
    /// First state buffer: momentum's velocity, AdaGrad/RMSProp/Adadelta's `s`, Adam's `v`.
    public let first: UnsafeMutableBufferPointer<Float>
    /// Second state buffer: Adadelta's `delta`, Adam's `s`.
    public let second: UnsafeMutableBufferPointer<Float>
    /// Updates applied so far (Adam's bias-correction step `t`).
    public private(set) var updates = 0
    private let momentum, wd, gamma1, rho, beta1, beta2, epsilon: Float

    /// Creates the optimizer for `count` parameters, with zero state.
    public init(settings: OptimizerSettings, count: Int) {
        self.settings = settings
        first = .allocate(capacity: count)
        second = .allocate(capacity: count)
        first.initialize(repeating: 0)
        second.initialize(repeating: 0)
        momentum = Float(settings.momentum)
        wd = Float(settings.wd)
        gamma1 = Float(settings.gamma1)
        rho = Float(settings.rho)
        beta1 = Float(settings.beta1)
        beta2 = Float(settings.beta2)
        epsilon = Float(settings.epsilon)
    }

    deinit {
        first.deallocate()
        second.deallocate()
    }

    /// Sets the update count of a resumed run (its state buffers are restored directly).
    public func restore(updates: Int) {
        self.updates = updates
    }

    /// Updates `parameters` with the mean gradient `gradientSum * gradientScale` at step size `learningRate`.
    ///
    /// Taking the sum and a scale lets the trainer pass the allreduced sum without a division pass.
    @inline(__always)
    public func update(
        _ parameters: UnsafeMutableBufferPointer<Float>, gradientSum: UnsafePointer<Float>, gradientScale: Float,
        learningRate: Float
    ) {
        updates += 1
        let count = parameters.count
        switch settings.kind {
        case .sgd where momentum == 0:
            for i in 0..<count {
                let g = gradient(gradientSum, gradientScale, parameters, i)
                parameters[i] -= learningRate * g
            }
        case .sgd, .momentum:
            for i in 0..<count {
                let g = gradient(gradientSum, gradientScale, parameters, i)
                first[i] = momentum * first[i] + g
                parameters[i] -= learningRate * first[i]
            }
        case .nag:
            for i in 0..<count {
                let g = gradient(gradientSum, gradientScale, parameters, i)
                first[i] = momentum * first[i] + g
                parameters[i] -= learningRate * (g + momentum * first[i])
            }
        case .adagrad:
            for i in 0..<count {
                let g = gradient(gradientSum, gradientScale, parameters, i)
                first[i] += g * g
                parameters[i] -= learningRate * g / (first[i] + epsilon).squareRoot()
            }
        case .rmsprop:
            for i in 0..<count {
                let g = gradient(gradientSum, gradientScale, parameters, i)
                first[i] = gamma1 * first[i] + (1 - gamma1) * g * g
                parameters[i] -= learningRate * g / (first[i] + epsilon).squareRoot()
            }
        case .adadelta:
            for i in 0..<count {
                let g = gradient(gradientSum, gradientScale, parameters, i)
                first[i] = rho * first[i] + (1 - rho) * g * g
                let change = ((second[i] + epsilon) / (first[i] + epsilon)).squareRoot() * g
                parameters[i] -= learningRate * change
                second[i] = rho * second[i] + (1 - rho) * change * change
            }
        case .adam:
            let correction1 = 1 - Float(pow(settings.beta1, Double(updates)))
            let correction2 = 1 - Float(pow(settings.beta2, Double(updates)))
            for i in 0..<count {
                let g = gradient(gradientSum, gradientScale, parameters, i)
                first[i] = beta1 * first[i] + (1 - beta1) * g
                second[i] = beta2 * second[i] + (1 - beta2) * g * g
                let corrected = first[i] / correction1
                parameters[i] -= learningRate * corrected / ((second[i] / correction2).squareRoot() + epsilon)
            }
        }
    }

    /// The mean gradient of parameter `i`, with weight decay.
    @inline(__always)
    private func gradient(
        _ sum: UnsafePointer<Float>, _ scale: Float, _ parameters: UnsafeMutableBufferPointer<Float>, _ i: Int
    ) -> Float {
        wd == 0 ? sum[i] * scale : sum[i] * scale + wd * parameters[i]
    }

    /// The state's bits folded into one number, equal on two ranks only if their state is (for the replica
    /// check); the update count is included.
    public var stateChecksum: Double {
        var checksum = Double(updates)
        for (index, value) in (Array(first) + Array(second)).enumerated() {
            checksum += Double(value.bitPattern) * Double(index + 1)
        }
        return checksum
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
