import Common
import Data
import Formats
import Foundation

/// The run every fuzzed checkpoint is offered to: the airfoil shape (1500 training rows, 5 features) with the
/// linear model at global batch 10 on 4 ranks (a checkpoint's own configuration, with or without a batch schedule,
/// is what its state is validated against).
private let layout = ShardLayout(rows: 1500, ranks: 4, globalBatch: 10)
private let run = TrainingConfiguration(dataPath: "airfoil.dat", preset: .minibatch10, globalBatch: 10)

/// libFuzzer target: any bytes as a checkpoint's JSON payload, with the digest recomputed so the decoder and the
/// validation behind `--resume` see every mutation (a mutated digest would stop them at the checksum).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointPayload(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let payload = Array(UnsafeBufferPointer(start: data, count: size))
    let file = DigestedFile(kind: "checkpoint", version: Checkpoint.formatVersion).encode(payload)
    do {
        let checkpoint = try Checkpoint.decode(file, source: "fuzz")
        let description = DataDescription(path: "airfoil.dat", fileRows: 1503, trainingRows: 1500, features: 5)
        _ = checkpoint.incompatibility(
            with: run, data: description, means: checkpoint.means, standardDeviations: checkpoint.standardDeviations)
        try checkpoint.validate(parameterCount: 6, layout: layout, source: "fuzz")
        _ = checkpoint.extensionProblem(epochs: 2, layout: layout)
        // What the trainer then does with a valid state: index the model and optimizer buffers by it, and start at
        // its step of the epoch (a fixed batch) or its slot (a batch schedule's), here or on another rank count.
        precondition(checkpoint.state.parameters.count == 6 && checkpoint.state.optimizerSecond.count == 6)
        if let schedule = checkpoint.state.batchSchedule, checkpoint.configuration.batchSchedule != nil {
            precondition((0..<layout.rows).contains(schedule.slotInEpoch), "a slot outside the epoch")
        } else {
            precondition(layout.slots(ofStep: checkpoint.state.stepInEpoch).count > 0)
        }
        let resumed = checkpoint.resumePoint(ranks: 3, layout: layout).state
        if let batch = resumed.batchSchedule?.globalBatch {
            precondition((1...layout.rows).contains(batch), "a resumed batch of \(batch)")
        }
    } catch let failure as JobFailure {
        precondition(failure.kind == .invalidData && !failure.message.contains("\n"), "a refusal of the wrong form")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}
