import Common
import Data
import Formats
import Foundation
import Models
import Optimization
import TestSupport
import Testing

/// Hostile input, generated from a seed: every input either parses or is refused with one line; none crashes.
///
/// A property test in the plain sense: seeded random inputs, a property checked on each, a bounded count.
@Suite("Fuzzing the parsers")
struct FuzzTests {
    /// Damage of the kinds real files have: truncation, NULs, huge or odd numbers, long lines, bad UTF-8, a
    /// header row, blank lines, mixed line ends, deleted or duplicated bytes.
    static func mutate(_ input: [UInt8], _ random: inout TestRandom) -> [UInt8] {
        var bytes = input
        for _ in 0...random.below(4) {
            let at = random.below(bytes.count + 1)
            switch random.below(10) {
            case 0: bytes = Array(bytes.prefix(at))
            case 1: bytes.insert(0, at: at)
            case 2: bytes.insert(contentsOf: Array("1e999".utf8), at: at)
            case 3: bytes.insert(contentsOf: Array(repeating: UInt8(ascii: "7"), count: 5000 + random.below(5000)), at: at)
            case 4: bytes.insert(contentsOf: [0xFF, 0xFE, 0xC3], at: at)
            case 5: bytes.insert(contentsOf: Array("Frequency\tAngle\tChord\tVelocity\tThickness\tSound\n".utf8), at: 0)
            case 6: bytes.append(contentsOf: Array("\n\r\n\n  \n".utf8))
            case 7: bytes.insert(contentsOf: [UInt8(ascii: "\r")], at: at)
            case 8: if at < bytes.count { bytes.remove(at: at) }
            default: bytes.insert(contentsOf: Array(["nan", "-inf", "0x1p3", "+", ".", "1e-400", "\t", ","][random.below(8)].utf8), at: at)
            }
        }
        return bytes
    }

    @Test("3,000 damaged airfoil files: parsed, or refused with one line naming the file")
    func dataParser() {
        let original = Array(SharedData.bytes.prefix(3000))
        var random = TestRandom(state: 2026)
        var refused = 0
        for _ in 0..<3000 {
            let input = Self.mutate(original, &random)
            do {
                let shape = try DelimitedParser.parse(input, source: "fuzz.dat") { _, values in
                    precondition(values.allSatisfy(\.isFinite))
                }
                #expect(shape.rows > 0 && shape.columns >= 2)
            } catch let failure as JobFailure {
                refused += 1
                #expect(failure.kind == .invalidData)
                #expect(!failure.message.contains("\n") && failure.message.hasPrefix("data file 'fuzz.dat'"))
                #expect(failure.message.count < 300)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        #expect(refused > 100, "the mutations should break most files")
    }

    @Test("2,000 damaged checkpoints: read back equal, or refused")
    func checkpointReader() throws {
        let original = try CheckpointTests.sample().encoded()
        var random = TestRandom(state: 7)
        for _ in 0..<2000 {
            let input = Self.mutate(original, &random)
            do {
                let read = try Checkpoint.decode(input, source: "fuzz.ckpt")
                #expect(input == original || read == CheckpointTests.sample())
            } catch let failure as JobFailure {
                #expect(failure.kind == .invalidData)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}
