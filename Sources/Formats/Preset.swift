/// The chapter's four experiments (d2l 11.5), by name. Flags override any of their values.
public enum Preset: String, CaseIterable, Codable, Sendable {
    /// Gradient descent: the whole training set per step, lr 1, 10 epochs.
    case gd
    /// Stochastic gradient descent: one example per step, lr 0.005, 2 epochs.
    case sgd
    /// Minibatches of 100, lr 0.4, 2 epochs (the default job).
    case minibatch100
    /// Minibatches of 10, lr 0.05, 2 epochs.
    case minibatch10

    /// The preset's learning rate.
    public var learningRate: Double {
        switch self {
        case .gd: 1
        case .sgd: 0.005
        case .minibatch100: 0.4
        case .minibatch10: 0.05
        }
    }

    /// The preset's global batch; `nil` means all training rows (full-batch gradient descent).
    public var globalBatch: Int? {
        switch self {
        case .gd: nil
        case .sgd: 1
        case .minibatch100: 100
        case .minibatch10: 10
        }
    }

    /// The preset's number of epochs.
    public var epochs: Int {
        self == .gd ? 10 : 2
    }
}

extension Preset {
    /// One preset's values for help texts: `gd (lr 1, all rows per step, 10 epochs)`.
    public var summary: String {
        let batch = globalBatch.map { "batch \($0)" } ?? "all rows per step"
        let rate = String(format: "%g", learningRate)
        return "\(rawValue) (lr \(rate), \(batch), \(epochs) epochs\(self == .minibatch100 ? "; the default" : ""))"
    }
}
