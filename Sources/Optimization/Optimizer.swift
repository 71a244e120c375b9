import Common
import KernelCore
import Kernels

/// Applies one of d2l chapter 11's update rules to the parameters, with its state in buffers allocated once.
///
/// Every rank applies the same rule to the same allreduced gradient, so parameters and state stay identical
/// across ranks without any communication of state.
public final class Optimizer {
    /// The rule and its hyperparameters.
    public let settings: OptimizerSettings
    /// First state buffer: momentum's, NAG's and LARS's velocity, AdaGrad/RMSProp/Adadelta's `s`, Adam's and
    /// LAMB's first moment.
    public let first: UnsafeMutableBufferPointer<Float>
    /// Second state buffer: Adadelta's `delta`, Adam's and LAMB's second moment.
    public let second: UnsafeMutableBufferPointer<Float>
    /// Updates applied so far (Adam's bias-correction step `t`).
    /// (Only the owning trainer's thread touches it: no dynamic exclusivity check per step.)
    @exclusivity(unchecked) public private(set) var updates = 0
    private let momentum, wd, gamma1, rho, beta1, beta2, epsilon: Float
    /// The kernels' rule; nil for the rules that work layer by layer (LARS, LAMB: ``LayerwiseUpdate``).
    private let rule: UpdateRule?
    private let kernels: KernelSet
    private let layerwise: LayerwiseUpdate?

    /// Creates the optimizer for `count` parameters, with zero state. `layers` gives each layer's weights and bias
    /// (the model's `parameterLayers`), whose norms LARS and LAMB take; a required argument, so that no caller can
    /// leave a model's layers out and have LARS treat the whole model as one layer.
    public init(
        settings: OptimizerSettings, count: Int, kernels: KernelSet = .active,
        layers: [(weights: Range<Int>, bias: Range<Int>)]
    ) {
        self.settings = settings
        self.kernels = kernels
        rule = switch settings.kind {
        case .sgd: .sgd
        case .momentum: .momentum
        case .nag: .nag
        case .adagrad: .adagrad
        case .rmsprop: .rmsprop
        case .adadelta: .adadelta
        case .adam: .adam
        case .lars, .lamb: nil
        }
        layerwise = rule == nil
            ? LayerwiseUpdate(settings: settings, count: count, layers: layers) : nil
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
    /// Taking the sum and a scale lets the trainer pass the allreduced sum without a division pass. The rules run
    /// in the kernel set's instruction set, eight parameters at a time; every operation is the scalar rule's, lane
    /// by lane, so the result is bit for bit the scalar loop's on every instruction set, only faster (several times
    /// faster for Adam over the MLP's parameters).
    @inline(__always)
    public func update(
        _ parameters: UnsafeMutableBufferPointer<Float>, gradientSum: UnsafePointer<Float>, gradientScale: Float,
        learningRate: Float
    ) {
        updates += 1
        let count = parameters.count
        let weights = parameters.baseAddress!
        let first = first.baseAddress!
        let second = second.baseAddress!
        guard let rule else {
            layerwise!.update(weights, gradientSum: gradientSum, gradientScale: gradientScale,
                              learningRate: learningRate, first: first, second: second, updates: updates)
            return
        }
        let constants = UpdateConstants(
            rate: learningRate, scale: gradientScale, decay: wd, momentum: momentum, gamma1: gamma1, rho: rho,
            beta1: beta1, beta2: beta2, epsilon: epsilon,
            // Only Adam corrects its bias; two `pow` calls were about a quarter of the sgd preset's step.
            correction1: rule == .adam ? 1 - Float(pow(settings.beta1, Double(updates))) : 1,
            correction2: rule == .adam ? 1 - Float(pow(settings.beta2, Double(updates))) : 1)
        kernels.update(rule, constants, weights, gradientSum, first, second, count)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
