import Foundation

extension DecodingError {
    /// One line naming the field at fault as the file spells it (``JSONFormat``), for messages about untrusted
    /// files: `field 'state.step_in_epoch' is missing`, `field 'parameters[3]' has the wrong type or is null`, `the
    /// payload is not valid JSON`.
    public var fieldProblem: String {
        func name(_ path: [any CodingKey]) -> String {
            path.reduce("") { text, key in
                if let index = key.intValue { return text + "[\(index)]" }
                let field = JSONFormat.snakeCase(key.stringValue)
                return text.isEmpty ? field : text + "." + field
            }
        }
        switch self {
        case .keyNotFound(let key, let context):
            return "field '\(name(context.codingPath + [key]))' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "field '\(name(context.codingPath))' has the wrong type or is null"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "the payload is not valid JSON"
        case .dataCorrupted(let context):
            return "field '\(name(context.codingPath))' has an invalid value"
        @unknown default:
            return "the payload cannot be read"
        }
    }
}
