import Common
import Kernels

/// Which model `--model` trains.
public enum ModelKind: String, CaseIterable, Codable, Sendable {
    /// The chapter's linear regression `y = X w + b`.
    case linear
    /// A multilayer perceptron: hidden layers of `--hidden` widths with `--activation`, then a linear output.
    case mlp
}

/// The nonlinearity of the MLP's hidden layers.
public enum Activation: String, CaseIterable, Codable, Sendable {
    /// `max(0, z)`.
    case relu
    /// `tanh(z)`.
    case tanh
}

/// A model's architecture: what a run log header, a checkpoint and a model file record, and what builds it.
public struct ModelSpec: Codable, Equatable, Sendable {
    /// The model family.
    public var kind: ModelKind
    /// Hidden layer widths (empty for the linear model).
    public var hidden: [Int]
    /// The hidden layers' nonlinearity (unused by the linear model).
    public var activation: Activation

    /// Creates a specification; the linear model ignores `hidden` and `activation`.
    public init(kind: ModelKind = .linear, hidden: [Int] = [64, 64], activation: Activation = .relu) {
        self.kind = kind
        self.hidden = kind == .linear ? [] : hidden
        self.activation = activation
    }

    /// The linear model.
    public static let linear = ModelSpec(kind: .linear)

    /// Layer widths from the input to the output: `features`, the hidden widths, 1.
    public func widths(features: Int) -> [Int] { [features] + hidden + [1] }

    /// The number of parameters for `features` inputs: per layer, `(in + 1) x out` (weights and biases).
    public func parameterCount(features: Int) -> Int {
        let widths = widths(features: features)
        return zip(widths, widths.dropFirst()).reduce(0) { $0 + ($1.0 + 1) * $1.1 }
    }

    /// Builds the model with parameters initialised from `seed` (the same on every rank), computing with `kernels`
    /// (row-invariant ones for `--reproducible`: see `GEMM.rowInvariant`).
    public func make(
        features: Int, maxRows: Int, seed: UInt64, kernels: KernelSet = .active, rowInvariant: Bool = false
    ) -> any Model {
        switch kind {
        case .linear:
            LinearRegression(inputWidth: features + 1, maxRows: maxRows, seed: seed, kernels: kernels,
                             rowInvariant: rowInvariant)
        case .mlp:
            MultilayerPerceptron(widths: widths(features: features), activation: activation, maxRows: maxRows,
                                 seed: seed, kernels: kernels, rowInvariant: rowInvariant)
        }
    }

    /// Values that make no model, one line each.
    public var problems: [String] {
        guard kind == .mlp else { return [] }
        if hidden.isEmpty { return ["\(Setting.hidden) needs at least one width for \(Setting.model) mlp"] }
        if let bad = hidden.first(where: { !(1...65536).contains($0) }) {
            return ["\(Setting.hidden) widths must be between 1 and 65536 (got \(bad))"]
        }
        return []
    }

    /// A short description: `linear`, or `mlp 64,64 relu`.
    public var description: String {
        kind == .linear ? "linear" : "mlp \(hidden.map(String.init).joined(separator: ",")) \(activation.rawValue)"
    }
}
