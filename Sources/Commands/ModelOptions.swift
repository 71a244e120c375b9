import ArgumentParser
import Common
import Models

extension ModelKind: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}

/// The model flags, shared by `train` and `bench step`.
struct ModelOptions: ParsableArguments {
    @Option(help: "The model: linear (the chapter's) or mlp (hidden layers of --hidden widths, then a linear output).")
    var model: ModelKind = .linear

    @Option(help: "Hidden layer widths of --model mlp, comma-separated.")
    var hidden: String = "64,64"

    @Option(help: "The hidden layers' nonlinearity for --model mlp: relu or tanh.")
    var activation: Activation = .relu

    /// The architecture the flags describe.
    /// - Throws: ``JobFailure`` of kind `.usage` when `--hidden` is not a list of widths.
    func specification() throws -> ModelSpec {
        let widths = try hidden.split(separator: ",", omittingEmptySubsequences: false).map { text -> Int in
            guard let width = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw JobFailure(.usage, "--hidden '\(hidden)' is not a comma-separated list of widths")
            }
            return width
        }
        return ModelSpec(kind: model, hidden: widths, activation: activation)
    }
}
