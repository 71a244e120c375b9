import Common
import Formats
import Models
import Training

/// Two rows of raw values for every width a file may claim: the features, then the target.
private func rows(columns: Int) -> [Double] {
    (0..<(2 * columns)).map { Double($0 % 7) * 10 + 0.5 }
}

/// libFuzzer target: any bytes as a model file's payload (digest recomputed), read as `predict` reads it; an
/// accepted file is then evaluated as `predict --output` evaluates it, which must give a finite loss and finite
/// predictions or refuse with one line (a model whose values overflow is an error, not a result).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let payload = Array(UnsafeBufferPointer(start: data, count: size))
    let file = DigestedFile(kind: "model", version: ModelFile.formatVersion).encode(payload)
    do {
        let read = try ModelFile.decode(file, source: "fuzz")
        let columns = read.features + 1
        let (loss, predictions) = try ModelEvaluation.evaluate(
            read, values: rows(columns: columns), columns: columns, predicting: true, model: "fuzz", data: "rows")
        precondition(loss.isFinite && predictions?.count == 2 && predictions!.allSatisfy(\.isFinite),
                     "an evaluation that is not finite was returned")
    } catch let failure as JobFailure {
        precondition(failure.kind == .invalidData && !failure.message.contains("\n"), "a refusal of the wrong form")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}
