import Foundation

/// The one JSON key policy of every file airfoil-dp writes (run logs, checkpoints, model files): snake_case keys,
/// sorted, slashes unescaped; numbers that are not finite as the strings `inf`, `-inf` and `nan` (only the run log
/// may hold them: a diverged run's last loss).
public enum JSONFormat {
    /// The encoder of every file.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// The decoder that reads what ``encoder()`` writes; keys a type does not know are ignored.
    ///
    /// Foundation's snake_case conversion does not round-trip a property with an acronym (`scaleLR` is written
    /// `scale_lr` and read back as `scaleLr`), so keys are converted here, those of ``acronymKeys`` by name.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in
            let key = path.last!.stringValue
            return AnyCodingKey(stringValue: acronymKeys[key] ?? camelCase(key))
        }
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    /// The written keys whose properties hold an acronym (a test encodes the records and files with every field set
    /// and decodes them back, so a new one cannot go unnoticed).
    static let acronymKeys = ["scale_lr": "scaleLR", "max_lr": "maxLR"]

    /// `snake_case` as `camelCase` (`noise_scale_decay` as `noiseScaleDecay`); leading underscores kept.
    static func camelCase(_ key: String) -> String {
        let words = key.split(separator: "_", omittingEmptySubsequences: false)
        guard words.count > 1, let first = words.first(where: { !$0.isEmpty }) else { return key }
        let leading = key.prefix { $0 == "_" }
        let rest = words.drop { $0.isEmpty }.dropFirst()
        return leading + first + rest.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// A property name as the encoder writes it (`stepInEpoch` as `step_in_epoch`, `scaleLR` as `scale_lr`), for
    /// messages that name a field.
    public static func snakeCase(_ name: String) -> String {
        var words: [String] = []
        var word = ""
        let characters = Array(name)
        for (index, character) in characters.enumerated() {
            let startsWord = character.isUppercase && !word.isEmpty
                && (!characters[index - 1].isUppercase
                    || (index + 1 < characters.count && characters[index + 1].isLowercase))
            if startsWord {
                words.append(word)
                word = ""
            }
            word.append(character)
        }
        words.append(word)
        return words.map { $0.lowercased() }.joined(separator: "_")
    }

    /// A coding key made from a string.
    struct AnyCodingKey: CodingKey {
        let stringValue: String
        let intValue: Int?
        init(stringValue: String) {
            self.stringValue = stringValue
            intValue = nil
        }
        init?(intValue: Int) {
            stringValue = "\(intValue)"
            self.intValue = intValue
        }
    }
}
