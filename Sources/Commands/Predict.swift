import ArgumentParser
import Common
import Data
import Foundation
import Models

/// `airfoil-dp predict`: a saved model's loss over rows of data, and its predictions in the target's own units.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model saved by 'train --save-model' on data, and optionally write its predictions.",
        discussion: """
            Prints 'loss: X', the mean of (y_hat - y)^2 / 2 over the rows in the units the model was trained in \
            (standardised with the model file's own means and deviations, so it equals the training run's \
            final_loss on the same rows), X in shortest round-trip form. --output writes one prediction per row in \
            the target's original units. Runs in one process (no mpirun). Exit codes: 0 done, 64 usage, 65 invalid \
            model file or data, 66 missing file, 73 output not writable.
            """)

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "The data file, or synthetic:... (default: $AIRFOIL_DP_DATA, else data/airfoil_self_noise.dat).")
    var data: String?

    @Option(help: "Evaluate the first N rows (default: as many as the model was trained on).")
    var rows: Int?

    @Option(help: "Write one prediction per row, in the target's original units, to this file.")
    var output: String?

    func run() throws {
        if let rows, rows <= 0 { throw JobFailure(.usage, "--rows must be positive (got \(rows))") }
        guard let contents = FileManager.default.contents(atPath: model) else {
            throw JobFailure(.missingData, "model file '\(model)' cannot be read (missing or unreadable)")
        }
        let file = try ModelFile.decode([UInt8](contents), source: model)
        let path = DataLocation.resolve(flag: data)
        let count = rows ?? file.trainingRows
        let (columns, values) = try LeadingRows.read(path: path, rows: count)
        guard columns - 1 == file.features else {
            throw JobFailure(.invalidData, "model file '\(model)' has \(file.features) features; '\(path)' has "
                + "\(columns - 1)")
        }
        let (inputs, targets) = TrainingShard.standardise(
            values, columns: columns, means: file.means, deviations: file.standardDeviations)
        let network = file.model.make(features: file.features, maxRows: min(count, 4096), seed: 0)
        file.parameters.withUnsafeBufferPointer { network.parameters.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        let loss = network.squaredErrorSum(inputs: inputs, targets: targets, count: count) / Double(count)
        if let output {
            var predictions = [Float](repeating: 0, count: count)
            network.predict(inputs: inputs, count: count, into: &predictions)
            let mean = file.means[file.features]
            let deviation = file.standardDeviations[file.features]
            let text = predictions.map { "\(Double($0) * deviation + mean)\n" }.joined()
            try AtomicFile.write(Array(text.utf8), to: output, what: "the predictions")
        }
        Console.out("loss: \(loss)")
    }
}
