import Common
import Models

/// libFuzzer target: any bytes as a model file's payload (digest recomputed), read as `predict --model` reads it;
/// an accepted file must then make its model and predict a row.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let payload = Array(UnsafeBufferPointer(start: data, count: size))
    let file = DigestedFile(kind: "model", version: ModelFile.formatVersion).encode(payload)
    do {
        let read = try ModelFile.decode(file, source: "fuzz")
        let model = read.model.make(features: read.features, maxRows: 1, seed: 0)
        precondition(model.parameters.count == read.parameters.count, "the file's parameters do not fit its model")
        for index in model.parameters.indices { model.parameters[index] = read.parameters[index] }
        // One standardised row as every model reads it: the features, then the constant 1 of the bias.
        let inputs = [Float](repeating: 0.5, count: read.features) + [1]
        var output: [Float] = [0]
        inputs.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { model.predict(inputs: inputs.baseAddress!, count: 1, into: $0.baseAddress!) }
        }
    } catch let failure as JobFailure {
        precondition(failure.kind == .invalidData && !failure.message.contains("\n"), "a refusal of the wrong form")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}
