import Common
import Foundation
import MPI
import TestSupport
import Testing
import Training

/// Checkpoints edited with their digest recomputed, as anyone can: every state field is checked against the run.
@Suite("Checkpoint fields validated against the run")
struct CheckpointValidationTests {
    /// A real checkpoint of a one-epoch minibatch10 run (150 steps), written at step 148, as a JSON object.
    static let written: (folder: URL, payload: Data) = {
        let folder = try! SharedData.temporaryDirectory()
        let path = folder.appendingPathComponent("run.ckpt").path
        var configuration = TrainingConfiguration(dataPath: SharedData.path, preset: .minibatch10, epochs: 1,
                                                  progress: .never)
        configuration.checkpointPath = path
        configuration.checkpointEvery = 37
        try! TrainingJob.run(configuration, collective: SingleProcess(), versions: [:], quiet: true)
        let bytes = FileManager.default.contents(atPath: path)!
        let payload = bytes[(bytes.firstIndex(of: UInt8(ascii: "\n"))! + 1)...]
        return (folder, Data(payload))
    }()

    /// Resumes a two-epoch run from the checkpoint with `edit` applied and its digest recomputed.
    func resume(editing edit: (inout [String: Any]) -> Void) throws -> JobFailure? {
        var payload = try JSONSerialization.jsonObject(with: Self.written.payload) as! [String: Any]
        edit(&payload)
        let json = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        let path = Self.written.folder.appendingPathComponent("edited-\(UUID().uuidString).ckpt").path
        let file = DigestedFile(kind: "checkpoint", version: Checkpoint.formatVersion).encode([UInt8](json))
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
        var configuration = TrainingConfiguration(dataPath: SharedData.path, preset: .minibatch10, epochs: 2,
                                                  progress: .never)
        configuration.resumePath = path
        do {
            try TrainingJob.run(configuration, collective: SingleProcess(), versions: [:], quiet: true)
            return nil
        } catch let failure as JobFailure {
            return failure
        }
    }

    /// Sets `state.<key>` to the JSON `value`.
    static func setState(_ key: String, _ value: String) -> (inout [String: Any]) -> Void {
        { payload in
            var state = payload["state"] as! [String: Any]
            state[key] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            payload["state"] = state
        }
    }

    @Test("the untouched payload, re-encoded with its digest, resumes and finishes")
    func untouchedResumes() throws {
        #expect(try resume { _ in } == nil)
    }

    @Test("an edited field is refused with exit code 65 and one line naming it", arguments: [
        ("stepInEpoch", "1000000", "field 'state.stepInEpoch' is 1000000, outside 0..149"),
        ("epoch", "-1", "field 'state.epoch' is -1, outside 0..1"),
        ("step", "7", "field 'state.step' is 7, outside 148..148"),
        ("optimizerUpdates", "1099511627776", "field 'state.optimizerUpdates' is 1099511627776, outside 148..148"),
        ("examples", "5", "field 'state.examples' is 5, outside 1480..1480"),
        ("nextEval", "0", "field 'state.nextEval' is 0, outside 1481.."),
        ("trainSeconds", "-3", "field 'state.trainSeconds' is -3.0, not a finite number >= 0"),
        ("initialLoss", "-1", "field 'state.initialLoss' is -1.0, not a finite number >= 0"),
        ("parameters", "[0.5]", "field 'state.parameters' has 1 values; the model has 6 parameters"),
        ("optimizerFirst", "[0,0,0,0,0,0,0]", "field 'state.optimizerFirst' has 7 values"),
        ("optimizerSecond", "\"none\"", "field 'state.optimizerSecond' has the wrong type"),
        ("lastLoss", "null", "field 'state.lastLoss' has the wrong type or is null"),
        ("noiseScale", #"{"traceAverage":1,"squaredNormAverage":1,"weight":2}"#,
         "field 'state.noiseScale' has weight 2.0, outside 0..1"),
    ])
    func editedStateField(field: String, value: String, message: String) throws {
        let failure = try resume(editing: Self.setState(field, value))
        #expect(failure?.exitCode == 65, "\(String(describing: failure))")
        #expect(failure?.message.contains(message) == true, "\(failure?.message ?? "accepted")")
        #expect(failure?.message.contains("\n") == false)
    }

    @Test("a missing field, a bad rank count and an impossible epoch count are refused the same way")
    func otherFields() throws {
        let missing = try resume { payload in
            var state = payload["state"] as! [String: Any]
            state["lastLoss"] = nil
            payload["state"] = state
        }
        #expect(missing?.exitCode == 65)
        #expect(missing?.message.contains("field 'state.lastLoss' is missing") == true, "\(missing?.message ?? "")")
        let ranks = try resume { $0["ranks"] = 0 }
        #expect(ranks?.message.contains("field 'ranks' is 0, outside 1..") == true, "\(ranks?.message ?? "")")
        let epochs = try resume { payload in
            var configuration = payload["configuration"] as! [String: Any]
            configuration["epochs"] = Int.max
            payload["configuration"] = configuration
        }
        #expect(epochs?.exitCode == 65)
        #expect(epochs?.message.contains("field 'configuration.epochs'") == true, "\(epochs?.message ?? "")")
    }
}
