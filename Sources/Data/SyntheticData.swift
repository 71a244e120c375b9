import Common

/// A regression data set that every rank generates itself, row by row, from the row's global index: identical at
/// every rank count, any size, no disk.
///
/// `--data synthetic:rows=N,features=D,noise=S,seed=K` (any subset of the keys; defaults 100000 rows, 8 features,
/// noise 0.1, seed 0). A row's features are standard normal draws; its target is a fixed teacher network's output
/// (one hidden layer of 32 tanh units, drawn from the seed), shifted and scaled to zero mean and unit variance over
/// 4096 reference rows, plus Gaussian noise of deviation S. After standardisation the best possible loss is about
/// `S^2 / (2 (1 + S^2))`. Every row is a training row unless `--rows`/`--val-rows` say otherwise.
public struct SyntheticData: Codable, Equatable, Sendable {
    /// Changes whenever the generator's output for the same settings changes, so logs never mix two generators.
    public static let generatorVersion = 1
    /// The prefix of `--data` that selects synthetic data.
    public static let prefix = "synthetic"

    public var rows: Int = 100_000
    public var features: Int = 8
    public var noise: Double = 0.1
    public var seed: UInt64 = 0
    public var version = generatorVersion

    private static let teacherWidth = 32
    private static let referenceRows = 4096

    /// Parses `synthetic` or `synthetic:key=value,...`; nil when `text` names something else (a file).
    /// - Throws: ``JobFailure`` of kind `.usage` for an unknown key or a bad value.
    public static func parse(_ text: String) throws -> SyntheticData? {
        guard text == prefix || text.hasPrefix(prefix + ":") else { return nil }
        var data = SyntheticData()
        for pair in text.dropFirst(prefix.count + 1).split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            func bad() -> JobFailure {
                JobFailure(.usage, "\(Setting.dataPath) \(text): '\(pair)' is not key=value with keys rows, features, noise, seed")
            }
            guard parts.count == 2 else { throw bad() }
            switch parts[0] {
            case "rows": data.rows = try Int(parts[1]).orThrow(bad())
            case "features": data.features = try Int(parts[1]).orThrow(bad())
            case "noise": data.noise = try Double(parts[1]).orThrow(bad())
            case "seed": data.seed = try UInt64(parts[1]).orThrow(bad())
            default: throw bad()
            }
        }
        guard (1...1_000_000_000_000).contains(data.rows) else {
            throw JobFailure(.usage, "\(Setting.dataPath) \(text): rows must be between 1 and 10^12 (got \(data.rows))")
        }
        guard (1...4096).contains(data.features) else {
            throw JobFailure(.usage, "\(Setting.dataPath) \(text): features must be between 1 and 4096 (got \(data.features))")
        }
        guard data.noise >= 0 && data.noise.isFinite else {
            throw JobFailure(.usage, "\(Setting.dataPath) \(text): noise must be a non-negative number (got \(data.noise))")
        }
        return data
    }

    /// The generator for one data set: the teacher's weights and the target's scale, the same on every rank.
    public struct Generator: Sendable {
        let data: SyntheticData
        private let hiddenWeights: [Double]
        private let hiddenBiases: [Double]
        private let outputWeights: [Double]
        private let shift: Double
        private let scale: Double

        init(_ data: SyntheticData) {
            self.data = data
            let width = SyntheticData.teacherWidth
            var generator = SeededGenerator(seed: data.seed, stream: 5)
            let hiddenWeights = (0..<(data.features * width)).map { _ in
                generator.nextNormal() / Double(data.features).squareRoot()
            }
            let hiddenBiases = (0..<width).map { _ in 0.1 * generator.nextNormal() }
            let outputWeights = (0..<width).map { _ in generator.nextNormal() / Double(width).squareRoot() }
            self.hiddenWeights = hiddenWeights
            self.hiddenBiases = hiddenBiases
            self.outputWeights = outputWeights
            // The target's scale: the teacher's mean and deviation over reference rows of their own stream.
            var sum = 0.0
            var squares = 0.0
            var features = [Double](repeating: 0, count: data.features)
            for row in 0..<SyntheticData.referenceRows {
                var rowGenerator = SeededGenerator(seed: data.seed, stream: 6, UInt64(row))
                for column in features.indices { features[column] = rowGenerator.nextNormal() }
                let value = Self.teacher(features, hiddenWeights, hiddenBiases, outputWeights)
                sum += value
                squares += value * value
            }
            let count = Double(SyntheticData.referenceRows)
            shift = sum / count
            scale = max(squares / count - shift * shift, 1e-12).squareRoot()
        }

        /// The teacher network's raw output for one row of features.
        private static func teacher(
            _ features: [Double], _ hiddenWeights: [Double], _ hiddenBiases: [Double], _ outputWeights: [Double]
        ) -> Double {
            let width = outputWeights.count
            var output = 0.0
            for unit in 0..<width {
                var preActivation = hiddenBiases[unit]
                for column in features.indices {
                    preActivation += features[column] * hiddenWeights[column * width + unit]
                }
                output += tanh(preActivation) * outputWeights[unit]
            }
            return output
        }

        /// Row `index` of the data set: `features` values, then the target.
        public func row(_ index: Int, into values: inout [Double]) {
            var generator = SeededGenerator(seed: data.seed, stream: 4, UInt64(index))
            values.removeAll(keepingCapacity: true)
            for _ in 0..<data.features { values.append(generator.nextNormal()) }
            let target = (Self.teacher(values, hiddenWeights, hiddenBiases, outputWeights) - shift) / scale + data.noise * generator.nextNormal()
            values.append(target)
        }
    }

    /// The generator of this data set.
    public var generator: Generator { Generator(self) }

    /// The description a log header records: the settings, the generator version, and `synthetic:...` text that
    /// `--data` accepts to make the same rows again.
    public var specification: String {
        "\(Self.prefix):rows=\(rows),features=\(features),noise=\(noise),seed=\(seed)"
    }
}

extension Optional {
    /// The wrapped value, or `error` thrown.
    func orThrow(_ error: @autoclosure () -> Error) throws -> Wrapped {
        guard let value = self else { throw error() }
        return value
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
