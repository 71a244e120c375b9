import Common
/// The update rules of d2l chapter 11, by the names `--optimizer` takes.
public enum OptimizerKind: String, CaseIterable, Codable, Sendable {
    /// Minibatch SGD, `w -= lr * g` (d2l 11.5).
    case sgd
    /// SGD with momentum, `v = momentum * v + g; w -= lr * v` (d2l 11.6).
    case momentum
    /// Nesterov momentum as Gluon's `nag`: `v = momentum * v + g; w -= lr * (g + momentum * v)`.
    case nag
    /// AdaGrad, `s += g^2; w -= lr * g / sqrt(s + epsilon)` (d2l 11.7).
    case adagrad
    /// RMSProp, `s = gamma1 * s + (1 - gamma1) g^2; w -= lr * g / sqrt(s + epsilon)` (d2l 11.8).
    case rmsprop
    /// Adadelta, no learning rate: `s = rho s + (1 - rho) g^2; g' = sqrt((d + eps) / (s + eps)) g; w -= g';
    /// d = rho d + (1 - rho) g'^2` (d2l 11.9).
    case adadelta
    /// Adam with bias correction (d2l 11.10).
    case adam
    /// LARS (You et al. 2017), as Gluon's `LARS`: per layer, the trust ratio `eta |w| / (|g| + wd |w| + epsilon)`
    /// scales the rate; `v = momentum v + lr trust (g + wd w); w -= v`. Biases are left out of the trust ratio and
    /// of weight decay (trust 1, no `wd`), as the paper's implementations exclude them.
    case lars
    /// LAMB (You et al. 2020, algorithm 2), as Gluon's `LAMB`: Adam's bias-corrected moments give
    /// `u = m / (sqrt(v) + epsilon) + wd w`; per layer `w -= lr (|w| / |u|) u` (trust 1 when either norm is 0).
    /// Biases take trust 1 and no weight decay.
    case lamb
}

/// An optimizer and all its hyperparameters, resolved: Gluon's names and defaults, overridden by `--hp`.
public struct OptimizerSettings: Codable, Equatable, Sendable {
    /// The update rule.
    public var kind: OptimizerKind
    /// The step size (Adadelta has none; it is recorded as 1 and must not be set).
    public var learningRate: Double
    /// Momentum factor (momentum, nag, and sgd where Gluon's sgd takes one).
    public var momentum: Double
    /// Weight decay: `wd * w` is added to the gradient of every parameter, as Gluon does.
    public var wd: Double
    /// RMSProp's decay of the squared gradient.
    public var gamma1: Double
    /// Adadelta's decay.
    public var rho: Double
    /// Adam's decay of the first moment.
    public var beta1: Double
    /// Adam's decay of the second moment.
    public var beta2: Double
    /// The small constant in the denominators.
    public var epsilon: Double
    /// LARS's trust coefficient; nil for the other rules (and so absent from their logs' headers).
    public var eta: Double?

    /// The hyperparameter names `--hp` accepts (Gluon's).
    public static let names = ["learning_rate", "momentum", "wd", "gamma1", "rho", "beta1", "beta2", "epsilon", "eta"]

    /// Gluon's defaults for `kind` (for `momentum`, which Gluon spells `sgd` with a momentum, 0.9 as in d2l 11.6).
    public static func defaults(for kind: OptimizerKind) -> OptimizerSettings {
        var settings = OptimizerSettings(
            kind: kind, learningRate: 0.01, momentum: 0, wd: 0, gamma1: 0.9, rho: 0.9, beta1: 0.9, beta2: 0.999,
            epsilon: 1e-8)
        switch kind {
        case .sgd, .nag: break
        case .momentum: settings.momentum = 0.9
        case .adagrad: settings.epsilon = 1e-7
        case .rmsprop: settings.learningRate = 0.001
        case .adadelta:
            settings.learningRate = 1
            settings.epsilon = 1e-5
        case .adam: settings.learningRate = 0.001
        case .lars: settings.eta = 0.001
        case .lamb:
            settings.learningRate = 0.001
            settings.epsilon = 1e-6
        }
        return settings
    }

    /// Resolves the settings from `--optimizer`, `--hp` pairs, `--lr` and the preset's learning rate.
    ///
    /// `--lr` and `--hp learning_rate` are one setting (an error if both are given and differ). Without either,
    /// `sgd` takes the preset's learning rate and the others take Gluon's default. Adadelta takes none.
    /// - Throws: ``JobFailure`` of kind `.usage` naming the offending option.
    public static func resolve(
        kind: OptimizerKind, hyperparameters: [(String, Double)], learningRateFlag: Double?, presetLearningRate: Double
    ) throws -> OptimizerSettings {
        var settings = defaults(for: kind)
        var learningRate = learningRateFlag
        for (name, value) in hyperparameters {
            guard value.isFinite else { throw JobFailure(.usage, "\(Setting.hyperparameter) \(name) must be a finite number (got \(value))") }
            switch name {
            case "learning_rate":
                if let flag = learningRateFlag, flag != value {
                    throw JobFailure(.usage, "\(Setting.learningRate) \(flag) and \(Setting.hyperparameter) learning_rate=\(value) disagree: give one")
                }
                learningRate = value
            case "momentum": settings.momentum = value
            case "wd": settings.wd = value
            case "gamma1": settings.gamma1 = value
            case "rho": settings.rho = value
            case "beta1": settings.beta1 = value
            case "beta2": settings.beta2 = value
            case "epsilon": settings.epsilon = value
            case "eta":
                guard kind == .lars else { throw JobFailure(.usage, "\(Setting.hyperparameter) eta is lars's trust coefficient, not \(kind.rawValue)'s") }
                settings.eta = value
            default:
                throw JobFailure(.usage, "\(Setting.hyperparameter) \(name) is not a hyperparameter (known: \(names.joined(separator: ", ")))")
            }
        }
        if kind == .adadelta {
            if learningRate != nil { throw JobFailure(.usage, "adadelta takes no learning rate (drop \(Setting.learningRate))") }
        } else if let learningRate {
            settings.learningRate = learningRate
        } else if kind == .sgd {
            settings.learningRate = presetLearningRate
        }
        if let problem = settings.problems.first { throw JobFailure(.usage, problem) }
        return settings
    }

    /// Values outside the ranges where the update rules are defined.
    public var problems: [String] {
        var found: [String] = []
        if !(learningRate > 0 && learningRate.isFinite) {
            found.append("the learning rate must be a positive finite number (got \(learningRate))")
        }
        for (name, value) in [("momentum", momentum), ("gamma1", gamma1), ("rho", rho), ("beta1", beta1), ("beta2", beta2)]
        where !(0..<1).contains(value) {
            found.append("\(Setting.hyperparameter) \(name) must be in [0, 1) (got \(value))")
        }
        if wd < 0 { found.append("\(Setting.hyperparameter) wd must not be negative (got \(wd))") }
        if !(epsilon > 0) { found.append("\(Setting.hyperparameter) epsilon must be positive (got \(epsilon))") }
        if let eta, !(eta > 0) { found.append("\(Setting.hyperparameter) eta must be positive (got \(eta))") }
        return found
    }
}
