import Common
import Data
import Formats
import Foundation
import Models
import Optimization
import TestSupport
import Testing

@Suite("Checkpoint files")
struct CheckpointTests {
    static func sample() -> Checkpoint {
        Checkpoint(
            configuration: TrainingConfiguration(dataPath: "d.dat", optimizer: .defaults(for: .adam)),
            data: DataDescription(path: "d.dat", fileRows: 1503, trainingRows: 1500, features: 5),
            means: [1, 2, 3, 4, 5, 6], standardDeviations: [0.5, 1, 1, 1, 1, 2], ranks: 4,
            state: TrainingState(
                parameters: [0.1, -0.2, 1e-30, .leastNonzeroMagnitude, 3.4e38, 0],
                optimizerFirst: [1, 2, 3, 4, 5, 6], optimizerSecond: [0.001, 0, 0, 0, 0, 7], optimizerUpdates: 42,
                epoch: 1, stepInEpoch: 3, step: 18, examples: 1800, nextEval: 2000, trainSeconds: 0.25,
                initialLoss: 0.486, lastLoss: 0.25))
    }

    @Test("written and read back, every float is the same bit for bit; the file is replaced atomically")
    func roundTrip() throws {
        let folder = try SharedData.temporaryDirectory()
        let path = folder.appendingPathComponent("state.ckpt").path
        try Self.sample().write(to: path)
        try Self.sample().write(to: path)
        let read = try Checkpoint.decode([UInt8](FileManager.default.contents(atPath: path)!), source: path)
        #expect(read == Self.sample())
        #expect(read.state.parameters.map(\.bitPattern) == Self.sample().state.parameters.map(\.bitPattern))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["state.ckpt"])
    }

    @Test("wrong magic, another version, truncation and every flipped byte are refused with a reason")
    func damagedFiles() throws {
        let bytes = try Self.sample().encoded()
        func refusal(_ damaged: [UInt8]) -> String? {
            do {
                _ = try Checkpoint.decode(damaged, source: "c")
                return nil
            } catch let failure as JobFailure {
                return failure.kind == .invalidData ? failure.message : "wrong kind"
            } catch {
                return "unexpected \(error)"
            }
        }
        #expect(refusal(Array("not a checkpoint\n{}".utf8))?.contains("wrong magic") == true)
        let otherVersion = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "checkpoint \(Checkpoint.formatVersion) ", with: "checkpoint 9 ")
        #expect(refusal(Array(otherVersion.utf8))?.contains("format version 9") == true)
        for length in [0, 10, bytes.count / 2, bytes.count - 1] {
            #expect(refusal(Array(bytes.prefix(length))) != nil, "truncated to \(length)")
        }
        for index in stride(from: 0, to: bytes.count, by: 7) {
            var damaged = bytes
            damaged[index] ^= 0x01
            let reason = refusal(damaged)
            #expect(reason != nil && reason != "wrong kind", "flipped byte \(index)")
        }
    }

    @Test("a checkpoint is incompatible with other data or another batch, compatible with another rank count")
    func compatibility() {
        let checkpoint = Self.sample()
        var configuration = checkpoint.configuration
        let data = checkpoint.data
        #expect(checkpoint.incompatibility(with: configuration, data: data, means: checkpoint.means,
                                           standardDeviations: checkpoint.standardDeviations) == nil)
        configuration.globalBatch = 50
        #expect(checkpoint.incompatibility(with: configuration, data: data, means: checkpoint.means,
                                           standardDeviations: checkpoint.standardDeviations) != nil)
        #expect(checkpoint.incompatibility(with: checkpoint.configuration, data: data, means: [9, 9, 9, 9, 9, 9],
                                           standardDeviations: checkpoint.standardDeviations) != nil)
        var reproducible = checkpoint.configuration
        reproducible.reproducible = true
        #expect(checkpoint.incompatibility(with: reproducible, data: data, means: checkpoint.means,
                                           standardDeviations: checkpoint.standardDeviations)
            == "was not written by a reproducible run")
    }

    @Test("at another rank count, a default checkpoint written mid-epoch skips to the next epoch; a reproducible one does not")
    func resumePoint() {
        var checkpoint = Self.sample()
        let layout = ShardLayout(rows: 1500, ranks: 3, globalBatch: checkpoint.configuration.globalBatch!)
        checkpoint.state.stepInEpoch = 2
        #expect(checkpoint.resumePoint(ranks: checkpoint.ranks + 2, layout: layout).skippedSteps > 0)
        checkpoint.configuration.reproducible = true
        let (state, skipped, _) = checkpoint.resumePoint(ranks: checkpoint.ranks + 2, layout: layout)
        #expect(skipped == 0 && state == checkpoint.state)
    }
}
