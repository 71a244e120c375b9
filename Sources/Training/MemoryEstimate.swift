import Common
import Data
import Formats
import Models

/// The bytes one rank of a run will allocate, estimated from the run's shape before anything large is: the rows it
/// holds (raw, standardised, the epoch's gathered copy), the model with its optimizer, gradient and scratch space,
/// and the text of a checkpoint or model file. It errs on the high side; it exists to refuse a run that cannot fit
/// with one line (``MemoryBudget``) instead of a trap or the out-of-memory killer after minutes of loading.
public enum MemoryEstimate {
    /// The bytes a training rank needs for `shape` under `configuration` (its global batch resolved, or nil for all
    /// training rows).
    public static func trainingRank(_ configuration: TrainingConfiguration, shape: ShardShape) -> Double {
        let rows = Double(shape.largestShard)
        let heldOut = Double(shape.largestValidationShard)
        let columns = Double(shape.columns)
        let features = shape.columns - 1
        let batch = configuration.largestBatch(ranks: shape.ranks, rows: shape.trainingRows)
        let scratchRows = Double(max((batch + shape.ranks - 1) / shape.ranks, min(shape.largestShard, 4096), 1))
        // Raw values (Double) and the line spans of a file's rows, then standardised inputs with their bias column
        // and targets (Float), then the epoch's gathered copy, the linear model's column copy and the sample order.
        var bytes = (rows + heldOut) * columns * 8 + rows * 16
        bytes += (rows + heldOut) * (columns + 1) * 4
        bytes += rows * (2 * columns + 1) * 4
        bytes += (configuration.isReproducible ? Double(shape.trainingRows) : rows) * 8
        bytes += model(configuration.model, features: features, scratchRows: scratchRows)
        let parameters = Double(configuration.model.parameterCount(features: features))
        // Optimizer state (two buffers), the allreduced gradient and the noise scale's second half.
        bytes += parameters * 4 * 4
        if configuration.isReproducible {
            bytes += parameters * 8 * (configuration.noiseScaleDecay == nil ? 1 : 2)
        }
        if configuration.checkpointPath != nil || configuration.saveModelPath != nil {
            // Three buffers as shortest round-trip text (up to about 16 bytes a float), encoded and copied.
            bytes += parameters * 3 * 16 * 2
        }
        return bytes + overhead
    }

    /// The bytes `predict` needs for `rows` rows of `columns` columns with `spec`.
    public static func prediction(_ spec: ModelSpec, rows: Int, columns: Int) -> Double {
        let count = Double(rows)
        // Raw values, standardised inputs and targets, predictions and their text.
        let data = count * (Double(columns) * 8 + Double(columns + 1) * 4 + 4 + 4 + 32)
        return data + model(spec, features: columns - 1, scratchRows: Double(min(max(rows, 1), 4096))) + overhead
    }

    /// The model's parameters and its per-row scratch space (the MLP's activations and deltas) for `scratchRows`.
    static func model(_ spec: ModelSpec, features: Int, scratchRows: Double) -> Double {
        let parameters = Double(spec.parameterCount(features: features))
        let hidden = spec.hidden.reduce(0.0) { $0 + Double(2 * $1 + 1) }
        return parameters * 4 + scratchRows * (hidden + 2) * 4
    }

    /// The runtime, MPI's buffers and the GEMM's packing space, which do not grow with the run.
    static let overhead = 64.0 * 1024 * 1024
}
