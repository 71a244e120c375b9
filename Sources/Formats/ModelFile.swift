import Checksums
import Common
import Foundation
import Models

/// A trained model as `--save-model` writes it and `airfoil-dp predict` reads it: the architecture, every
/// parameter bit for bit, and the standardisation the model was trained with.
///
/// On disk: one line `airfoil-dp model <version> <sha1 of the payload>`, then the payload as JSON (floats in
/// shortest round-trip form, so they read back exactly). The digest catches truncation and damage, not a deliberate
/// edit with a recomputed digest, so every field is also checked against the others when read.
public struct ModelFile: Codable, Equatable, Sendable {
    /// The format version this build reads and writes.
    public static let formatVersion = 1

    /// The architecture.
    public var model: ModelSpec
    /// Input features (the data's columns less the target).
    public var features: Int
    /// Every parameter in the model's order.
    public var parameters: [Float]
    /// Mean and population deviation of every column (features, then the target) used to standardise.
    public var means: [Double]
    public var standardDeviations: [Double]
    /// How many leading rows of the data the model was trained on.
    public var trainingRows: Int
    /// The data the model was trained on (a path or a synthetic specification), for people.
    public var data: String

    /// Creates a model file's contents.
    public init(model: ModelSpec, features: Int, parameters: [Float], means: [Double], standardDeviations: [Double],
                trainingRows: Int, data: String) {
        self.model = model
        self.features = features
        self.parameters = parameters
        self.means = means
        self.standardDeviations = standardDeviations
        self.trainingRows = trainingRows
        self.data = data
    }

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        Self.layout.encode([UInt8](try JSONFormat.encoder().encode(self)))
    }

    static let layout = DigestedFile(kind: "model", version: formatVersion)

    /// Writes the file atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        try AtomicFile.write(try encoded(), to: path, what: "the model file")
    }

    /// Parses and validates a model file's bytes.
    /// - Throws: ``JobFailure`` of kind `.invalidData` saying what is wrong.
    public static func decode(_ bytes: [UInt8], source: String) throws -> ModelFile {
        let what = "model file '\(source)'"
        let payload = try layout.payload(of: bytes, what: what)
        let file: ModelFile
        do {
            file = try JSONFormat.decoder().decode(ModelFile.self, from: Data(payload))
        } catch let error as DecodingError {
            throw JobFailure(.invalidData, "\(what) has a valid checksum, but \(error.fieldProblem)")
        } catch {
            throw JobFailure(.invalidData, "\(what) has a valid checksum but unreadable content")
        }
        if let problem = file.problems.first { throw JobFailure(.invalidData, "\(what) \(problem)") }
        return file
    }

    /// Fields that contradict each other or make no model, one line each.
    var problems: [String] {
        var found = Self.shapeProblems(model: model, features: features)
        guard found.isEmpty else { return found }
        let expected = model.parameterCount(features: features)
        if parameters.count != expected {
            found.append("field 'parameters' has \(parameters.count) values; \(model.description) with \(features) "
                + "features has \(expected)")
        }
        if !parameters.allSatisfy(\.isFinite) { found.append("field 'parameters' holds a value that is not finite") }
        found += Self.standardisationProblems(features: features, means: means, standardDeviations: standardDeviations)
        if trainingRows < 1 { found.append("field 'training_rows' is \(trainingRows), not positive") }
        return found
    }

    /// What makes a model file of this shape and standardisation unreadable, one line each: the one validation
    /// that `predict` applies when it reads a file and training applies before it trains a model to save, so that
    /// no run saves a model that `predict` refuses.
    public static func problems(model: ModelSpec, features: Int, means: [Double], standardDeviations: [Double])
        -> [String]
    {
        let found = shapeProblems(model: model, features: features)
        return found.isEmpty
            ? standardisationProblems(features: features, means: means, standardDeviations: standardDeviations) : found
    }

    private static func shapeProblems(model: ModelSpec, features: Int) -> [String] {
        var found: [String] = []
        if !(1...maximumFeatures).contains(features) {
            found.append("field 'features' is \(features), outside 1..\(maximumFeatures)")
        }
        found += model.problems.map { "field 'model': \($0)" }
        if model.kind == .linear && !model.hidden.isEmpty { found.append("field 'model' has hidden layers for linear") }
        return found
    }

    private static func standardisationProblems(features: Int, means: [Double], standardDeviations: [Double])
        -> [String]
    {
        var found: [String] = []
        if means.count != features + 1 || !means.allSatisfy(\.isFinite) {
            found.append("field 'means' must hold \(features + 1) finite values")
        }
        // A normal (not subnormal) deviation: dividing by a subnormal one overflows to infinity.
        if standardDeviations.count != features + 1
            || !standardDeviations.allSatisfy({ $0 >= .leastNormalMagnitude && $0.isFinite })
        {
            found.append("field 'standard_deviations' must hold \(features + 1) positive, normal, finite values")
        }
        return found
    }

    /// The most input features a model file may have.
    public static let maximumFeatures = 1_000_000
}
