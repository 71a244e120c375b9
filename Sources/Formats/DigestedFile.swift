import Checksums
import Common

/// The layout of airfoil-dp's own state files (checkpoints, model files): one header line
/// `airfoil-dp <kind> <format version> <SHA-1 of the payload>`, then the payload.
///
/// The digest catches truncation and damage; it is a checksum, not a signature, so readers still validate every
/// field of the payload.
public struct DigestedFile: Sendable {
    /// The word after `airfoil-dp` in the header: `checkpoint` or `model`.
    public let kind: String
    /// The format version this build writes (and reads).
    public let version: Int
    /// Earlier versions this build also reads (their payloads decode as the current one's).
    public let alsoReads: [Int]

    /// Describes one kind of file.
    public init(kind: String, version: Int, alsoReads: [Int] = []) {
        self.kind = kind
        self.version = version
        self.alsoReads = alsoReads
    }

    /// The header line and `payload`.
    public func encode(_ payload: [UInt8]) -> [UInt8] {
        Array("airfoil-dp \(kind) \(version) \(Digest.sha1(payload))\n".utf8) + payload
    }

    /// The payload of a file's `bytes`, after checking the header's kind, version and digest.
    /// - Throws: ``JobFailure`` of kind `.invalidData` naming `what` (for example `checkpoint 'state.ckpt'`).
    public func payload(of bytes: [UInt8], what: String) throws -> ArraySlice<UInt8> {
        func fail(_ problem: String) -> JobFailure { JobFailure(.invalidData, "\(what) \(problem)") }
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")), newline < 200 else {
            throw fail("is not an airfoil-dp \(kind) file (no header line)")
        }
        let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard header.count == 4, header[0] == "airfoil-dp", header[1] == kind else {
            throw fail("is not an airfoil-dp \(kind) file (wrong magic)")
        }
        guard let found = Int(header[2]), found == version || alsoReads.contains(found) else {
            let readable = (alsoReads + [version]).map(String.init).joined(separator: " and ")
            throw fail("has format version \(header[2]); this airfoil-dp reads version\(alsoReads.isEmpty ? "" : "s") "
                + readable)
        }
        let payload = bytes[(newline + 1)...]
        guard Digest.sha1(payload) == header[3] else {
            throw fail("is damaged: its checksum does not match (truncated or altered)")
        }
        return payload
    }
}
