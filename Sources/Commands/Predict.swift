import ArgumentParser
import Common
import Data
import Formats
import Foundation
import Models
import Training

/// `airfoil-dp predict`: a saved model's loss over rows of data, and its predictions in the target's own units.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model saved by 'train --save-model' on data, and optionally write its predictions.",
        discussion: """
            Prints 'loss: X', the mean of (y_hat - y)^2 / 2 over the rows in the units the model was trained in \
            (standardised with the model file's own means and deviations, so it equals the training run's \
            final_loss on the same rows), X in shortest round-trip form. --output writes one prediction per row in \
            the target's original units (a file, replaced atomically, or a device or pipe such as /dev/stdout, \
            written directly). Runs in one process (no mpirun). Exit codes: \
            \(JobFailure.exitCodeHelp([.usage, .invalidData, .missingData, .output])).
            """)

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "The data file, or synthetic:... (default: $AIRFOIL_DP_DATA, else data/airfoil_self_noise.dat).")
    var data: String?

    @Option(help: "Evaluate the first N rows (default: as many as the model was trained on).")
    var rows: Int?

    @Option(help: "Write one prediction per row, in the target's original units, to this file.")
    var output: String?

    @Option(help: ArgumentHelp(
        "The memory this process may use, e.g. 16G (default: the host's MemAvailable).", valueName: "size"))
    var maxMemory: String?

    func run() throws {
        if let rows, rows <= 0 { throw JobFailure(.usage, "--rows must be positive (got \(rows))") }
        let path = DataLocation.resolve(flag: data)
        var inputFiles = [(flag: "model", path: model)]
        if try SyntheticData.parse(path) == nil { inputFiles.append(("--data", path)) }
        try OutputPaths.check(inputs: inputFiles, outputs: output.map { [("--output", $0, .streamed)] } ?? [])
        if let output { AtomicFile.removeStaleTemporaries(of: output) }
        let limit = try MemoryBudget.limit(option: maxMemory)
        let file = try ModelFile.decode(try InputFile.read(model, what: "model file"), source: model)
        let count = rows ?? file.trainingRows
        let (columns, values) = try LeadingRows.read(
            path: path, rows: count, rowsFrom: rows == nil ? "model file '\(model)' field 'training_rows'" : "--rows"
        ) { shape in
            try MemoryBudget.check(
                bytesEach: MemoryEstimate.prediction(file.model, rows: shape.trainingRows, columns: shape.columns),
                processes: 1, host: "", limit: limit, what: "predicting \(shape.trainingRows) rows")
        }
        let (loss, predictions) = try ModelEvaluation.evaluate(
            file, values: values, columns: columns, predicting: output != nil, model: model, data: path)
        if let output, let predictions {
            let text = predictions.map { "\($0)\n" }.joined()
            try AtomicFile.writeStream(Array(text.utf8), to: output, what: "the predictions")
        }
        Console.out("loss: \(loss)")
    }
}
