import Commands
import Common

/// libFuzzer target: any bytes as a command line (arguments separated by NUL or newline), through everything
/// `airfoil-dp` does with its arguments before MPI starts: parsing, validation and the resolved configuration.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommandLine(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let arguments = bytes.split(omittingEmptySubsequences: false) { $0 == 0 || $0 == 10 }
        .map { String(decoding: $0, as: UTF8.self) }
    do {
        try AirfoilDP.resolve(size == 0 ? [] : arguments)
    } catch let failure as JobFailure {
        precondition(!failure.message.contains("\n"), "a refusal that is not one line")
    } catch {
        _ = AirfoilDP.message(for: error)
        _ = AirfoilDP.exitCode(for: error)
    }
    return 0
}
