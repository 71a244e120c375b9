import Common
import Formats

/// libFuzzer target: any bytes as a network profile's JSON payload (`compare --network`), with the digest recomputed
/// so the decoder and the validation see every mutation; a profile that passes is asked for the allreduce time of
/// sizes around and past its own and written back, which must read as the same profile.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNetworkProfile(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let payload = Array(UnsafeBufferPointer(start: data, count: size))
    let file = DigestedFile(kind: "network", version: NetworkProfile.formatVersion).encode(payload)
    do {
        let profile = try NetworkProfile.decode(file, source: "fuzz")
        for bytes in [1, 8, 4096, 1 << 20, 1 << 40, Int.max] + profile.sizes.map(\.bytes) {
            let seconds = profile.seconds(bytes: bytes)
            precondition(!seconds.isNaN && seconds >= 0, "a time that is not one: \(seconds) for \(bytes) bytes")
        }
        let again = try NetworkProfile.decode(try profile.encoded(), source: "fuzz")
        precondition(again == profile, "a profile that does not read back as itself")
    } catch let failure as JobFailure {
        precondition(failure.kind == .invalidData && !failure.message.contains("\n"), "a refusal of the wrong form")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}
