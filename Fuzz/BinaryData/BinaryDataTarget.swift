import Common
import Checksums
import Data
import Foundation
import MPI

/// The file each input is written to: in memory (/dev/shm) where there is one, one per process.
private let path = (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    + "/airfoil-dp-fuzz-binary-\(getpid()).bin"

/// libFuzzer target: any bytes after a first byte of flags as a binary data file, read as a one-rank run reads it.
/// Flag 1 recomputes the header's checksum and flag 2 every block's (as an edit that recomputed them would), so
/// that mutations reach the fields and the values behind them. A refusal must be one line naming the file; rows
/// accepted must be finite.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBinaryData(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let flags = data[0]
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if flags & 1 != 0, let length = try? BinaryDataHeader.headerLength(
        fixedPart: Array(bytes.prefix(BinaryDataHeader.fixedBytes)), fileSize: bytes.count, source: "fuzz"), length >= 8 {
        let checksum = bytes[..<(length - 8)].withUnsafeBytes { BlockChecksum.of($0) }
        withUnsafeBytes(of: checksum.littleEndian) { bytes.replaceSubrange((length - 8)..<length, with: $0) }
    }
    if flags & 2 != 0, var header = try? BinaryDataHeader.decode(bytes, fileSize: bytes.count, source: "fuzz") {
        for block in 0..<header.blocks {
            let rows = header.rows(ofBlock: block)
            let start = header.headerBytes + rows.lowerBound * header.rowBytes
            header.blockChecksums[block] = bytes[start..<(start + rows.count * header.rowBytes)].withUnsafeBytes {
                BlockChecksum.of($0)
            }
        }
        bytes.replaceSubrange(0..<header.headerBytes, with: header.encoded())
    }
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { preconditionFailure("cannot write \(path)") }
    defer { unlink(path) }
    do {
        let shard = try TrainingShard.load(path: path, requestedRows: nil, validationRows: 0, collective: SingleProcess())
        precondition(shard.inputs.allSatisfy(\.isFinite) && shard.targets.allSatisfy(\.isFinite), "rows that are not finite")
    } catch let failure as JobFailure {
        precondition(!failure.message.contains("\n") && failure.message.contains("'\(path)'"),
                     "a refusal that is not one line naming the file: \(failure.message)")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}
