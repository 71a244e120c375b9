import Common
import Data
import Formats
import Models

/// What `predict` computes from a saved model and rows of data: the loss in the units the model was trained in and,
/// when asked, a prediction per row in the target's own units. Every figure must be finite: a model file can be
/// edited (its digest recomputed) into values that overflow, and a loss or prediction that is not a number is an
/// error, never a result.
public enum ModelEvaluation {
    /// Evaluates `file` on `values` (rows of `columns` raw values: the features, then the target).
    /// - Parameters:
    ///   - model: the model file's path, for messages.
    ///   - data: the data's path, for messages.
    /// - Throws: ``JobFailure`` of kind `.invalidData` when the columns do not fit the model, or the standardised
    ///   rows, the loss or a prediction is not finite.
    public static func evaluate(
        _ file: ModelFile, values: [Double], columns: Int, predicting: Bool, model: String, data: String
    ) throws -> (loss: Double, predictions: [Double]?) {
        guard columns - 1 == file.features else {
            throw JobFailure(.invalidData, "model file '\(model)' has \(file.features) features; '\(data)' has "
                + "\(columns - 1)")
        }
        let count = values.count / columns
        let (inputs, targets) = TrainingShard.standardise(
            values, columns: columns, means: file.means, deviations: file.standardDeviations)
        guard inputs.withUnsafeBufferPointer(allFinite), targets.withUnsafeBufferPointer(allFinite) else {
            throw JobFailure(.invalidData, "'\(data)' standardised with model file '\(model)''s means and deviations "
                + "gives values beyond a float's range: the model was not trained on data like these")
        }
        let network = file.model.make(features: file.features, maxRows: min(max(count, 1), 4096), seed: 0)
        file.parameters.withUnsafeBufferPointer {
            network.parameters.baseAddress!.update(from: $0.baseAddress!, count: $0.count)
        }
        let loss = network.squaredErrorSum(inputs: inputs, targets: targets, count: count) / Double(count)
        guard loss.isFinite else {
            throw JobFailure(.invalidData, "model file '\(model)' gives a loss that is not a number (\(loss)) on "
                + "'\(data)': its parameters overflow on these rows")
        }
        guard predicting else { return (loss, nil) }
        var predictions = [Float](repeating: 0, count: count)
        network.predict(inputs: inputs, count: count, into: &predictions)
        let mean = file.means[file.features]
        let deviation = file.standardDeviations[file.features]
        let inUnits = predictions.map { Double($0) * deviation + mean }
        if let row = inUnits.firstIndex(where: { !$0.isFinite }) {
            throw JobFailure(.invalidData, "model file '\(model)' predicts \(inUnits[row]) for row \(row + 1) of "
                + "'\(data)': not a number; nothing was written")
        }
        return (loss, inUnits)
    }
}
