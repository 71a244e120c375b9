import Common
import Data

/// libFuzzer target: any bytes as a data file, through the parser every rank runs on its shard (format from the
/// first line, then the line scanner). A refusal must be one line naming the file and the line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDataParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var rows = 0
    do {
        let shape = try DelimitedParser.parse(bytes, source: "fuzz") { row, values in
            precondition(row == rows && values.allSatisfy(\.isFinite), "the parser passed a bad row")
            rows += 1
        }
        precondition(shape.rows == rows && shape.columns >= 2, "the shape disagrees with the rows visited")
    } catch let failure as JobFailure {
        precondition(!failure.message.contains("\n") && failure.message.hasPrefix("data file 'fuzz'"),
                     "a refusal that is not one line naming the file")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}
