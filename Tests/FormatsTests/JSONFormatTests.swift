import Data
import Formats
import Foundation
import Models
import Optimization
import Testing

@Suite("One JSON key policy for every file")
struct JSONFormatTests {
    /// A configuration with every optional setting given, so that every key is written.
    static func everySetting() -> TrainingConfiguration {
        var configuration = TrainingConfiguration(
            dataPath: "d.dat", preset: .minibatch10, rows: 1500, optimizer: .defaults(for: .adam),
            schedule: LearningRateSchedule(kind: .cosine, factor: 0.5, milestones: [1, 2], minimum: 0.001,
                                           warmupSteps: 3),
            scaleLR: .sqrt, baseBatch: 50, maxLR: 0.9, globalBatch: 10, epochs: 3, seed: 7, evalEvery: 100,
            logPath: "a.jsonl", progress: .never)
        configuration.model = ModelSpec(kind: .mlp, hidden: [8, 4], activation: .tanh)
        configuration.validationRows = 3
        configuration.saveModelPath = "m.model"
        configuration.timelinePath = "t.json"
        configuration.timelineSteps = 5
        configuration.warmupEpochs = 0.5
        configuration.effectiveLearningRate = 0.01
        configuration.overwriteLog = true
        configuration.checkpointPath = "c.ckpt"
        configuration.checkpointEvery = 9
        configuration.resumePath = "r.ckpt"
        configuration.stallTimeout = 12
        configuration.noiseScaleDecay = 0.9
        configuration.reproducible = true
        return configuration
    }

    @Test("every setting written snake_case reads back equal, acronyms (scale_lr, max_lr) included")
    func configurationRoundTrip() throws {
        let configuration = Self.everySetting()
        let data = try JSONFormat.encoder().encode(configuration)
        let keys = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]).keys
        #expect(keys.contains("scale_lr") && keys.contains("max_lr") && keys.contains("noise_scale_decay"))
        #expect(!keys.contains { $0.contains { $0.isUppercase } }, "\(keys.sorted())")
        #expect(try JSONFormat.decoder().decode(TrainingConfiguration.self, from: data) == configuration)
    }

    @Test("a property's name in messages is the key the encoder writes", arguments: [
        ("stepInEpoch", "step_in_epoch"), ("scaleLR", "scale_lr"), ("maxLR", "max_lr"),
        ("optimizerFirst", "optimizer_first"), ("noiseScale", "noise_scale"), ("epoch", "epoch"), ("beta1", "beta1"),
    ])
    func snakeCaseMatchesTheEncoder(name: String, key: String) throws {
        #expect(JSONFormat.snakeCase(name) == key)
        // Foundation's own conversion, through a one-key object.
        let encoded = try JSONFormat.encoder().encode([name: 1].mapKeys())
        #expect(String(decoding: encoded, as: UTF8.self) == #"{"\#(key)":1}"#)
    }
}

extension Dictionary where Key == String, Value == Int {
    /// The dictionary as a keyed container, so the encoder's key strategy applies to its keys.
    fileprivate func mapKeys() -> KeyedValues { KeyedValues(values: self) }
}

/// A value encoded through a keyed container whose keys are the dictionary's (a plain dictionary's keys are not
/// converted by key strategies).
private struct KeyedValues: Encodable {
    let values: [String: Int]

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in values { try container.encode(value, forKey: Key(stringValue: key)) }
    }
}
