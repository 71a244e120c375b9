import Checksums
import Common
import Formats
import Foundation
import Models
import Testing

@Suite("Model files: exact round trip, untrusted on read")
struct ModelFileTests {
    static let sample = ModelFile(
        model: ModelSpec(kind: .mlp, hidden: [3], activation: .tanh), features: 2,
        parameters: (0..<13).map { Float($0) * 0.1 + 1e-7 }, means: [1, 2, 3], standardDeviations: [0.5, 1, 2],
        trainingRows: 10, data: "synthetic")

    /// The file with its JSON payload replaced by `edit(payload)` and the digest recomputed: a deliberate edit.
    static func edited(_ edit: (String) -> String) throws -> [UInt8] {
        let bytes = try sample.encoded()
        let newline = bytes.firstIndex(of: 10)!
        let payload = edit(String(decoding: bytes[(newline + 1)...], as: UTF8.self))
        return Array("airfoil-dp model 1 \(Digest.sha1(Array(payload.utf8)))\n".utf8) + Array(payload.utf8)
    }

    private func problem(_ bytes: [UInt8]) -> String? {
        do {
            _ = try ModelFile.decode(bytes, source: "m")
            return nil
        } catch let failure as JobFailure {
            #expect(failure.kind == .invalidData)
            return failure.message
        } catch {
            return "\(error)"
        }
    }

    @Test("a written file reads back equal, parameters bit for bit")
    func roundTrip() throws {
        let decoded = try ModelFile.decode(try Self.sample.encoded(), source: "m")
        #expect(decoded == Self.sample)
        #expect(decoded.parameters.map(\.bitPattern) == Self.sample.parameters.map(\.bitPattern))
    }

    @Test("truncation, another version and a flipped byte are refused")
    func damage() throws {
        let bytes = try Self.sample.encoded()
        #expect(problem(Array(bytes.prefix(bytes.count - 5)))?.contains("checksum") == true)
        var flipped = bytes
        flipped[bytes.count - 20] ^= 1
        #expect(problem(flipped)?.contains("checksum") == true)
        let other = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "model 1 ", with: "model 7 ").utf8)
        #expect(problem(other)?.contains("format version 7") == true)
        #expect(problem(Array("hello\n".utf8))?.contains("not an airfoil-dp model file") == true)
    }

    @Test("edits under a recomputed digest are refused, naming the field", arguments: [
        ("\"features\":2", "\"features\":3", "'parameters'"),
        ("\"training_rows\":10", "\"training_rows\":-1", "'training_rows'"),
        ("\"means\":[1,2,3]", "\"means\":[1,2]", "'means'"),
        ("\"standard_deviations\":[0.5,1,2]", "\"standard_deviations\":[0.5,0,2]", "'standard_deviations'"),
        ("\"hidden\":[3]", "\"hidden\":[0]", "'model'"),
        ("\"features\":2", "\"features\":-4", "'features'"),
    ])
    func editedFields(from: String, to: String, field: String) throws {
        let bytes = try Self.edited { payload in
            #expect(payload.contains(from), "\(payload)")
            return payload.replacingOccurrences(of: from, with: to)
        }
        let message = problem(bytes)
        #expect(message?.contains(field) == true, "\(message ?? "accepted")")
    }
}
