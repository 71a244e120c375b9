import Common
import Formats
import Foundation

/// The run every fuzzed log is offered to: the airfoil data's linear model at global batch 100, as resolved.
private let data = DataDescription(path: "airfoil.dat", fileRows: 1503, trainingRows: 1500, features: 5)
private let run: TrainingConfiguration = {
    var configuration = TrainingConfiguration(dataPath: "airfoil.dat", rows: 1500, globalBatch: 100)
    configuration.effectiveLearningRate = 0.4
    return configuration
}()
private let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-resumed-\(getpid()).jsonl").path

/// libFuzzer target: any bytes as the run log a resumed run is given (`--resume C --log F`): opened, its header
/// checked against the run by the checkpoint's rules, a torn last line removed. It must accept or refuse with one
/// line (73), never append to a file it refused, and leave an accepted file a prefix of itself made of whole lines.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResumedLog(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let original = Data(bytes: bytes, count: size)
    // Written and read with the product's own calls: Foundation's contents(atPath:) leaks a page on an empty file.
    precondition(FileManager.default.createFile(atPath: path, contents: original), "cannot write \(path)")
    do {
        let log = try RunLog(path: path, continuing: true)
        let needsHeader = try log.prepareToContinue { header in
            data.continuationProblem(of: header.data) ?? run.continuationProblem(of: header.config)
        }
        // Read back with the product's own reader: Foundation's contents(atPath:) leaks a page on an empty file.
        let kept = Data(try InputFile.read(path, what: "log"))
        precondition(needsHeader == original.isEmpty, "a header asked for a log that holds records, or not for an empty one")
        precondition(original.starts(with: kept), "the repair changed more than the torn last line")
        precondition(kept.isEmpty || kept.last == UInt8(ascii: "\n"), "an accepted log does not end in a whole line")
    } catch let failure as JobFailure {
        precondition(failure.kind == .output && !failure.message.contains("\n"), "a refusal of the wrong form")
        precondition((try? InputFile.read(path, what: "log")).map { Data($0) } == original, "a refused log was changed")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}
