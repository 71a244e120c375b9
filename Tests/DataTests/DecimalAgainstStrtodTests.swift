import Common
import Data
import Foundation
import Glibc
import Testing

/// The parser's numbers against glibc's `strtod`, which rounds correctly: ten million decimal strings, random and
/// adversarial, through the public parser (eight to a line), each value's bits compared with strtod's.
@Suite("Decimal numbers parsed as strtod parses them")
struct DecimalAgainstStrtodTests {
    static let strings = 10_000_000
    static let perLine = 8
    static let perBatch = 200_000

    /// A small, seeded generator (SplitMix64): the same strings on every run.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    /// The exact decimal expansion of `significand * 2^exponent` (significand > 0), as digits and a power of ten:
    /// the value is digits * 10^power. Big-integer arithmetic in base 10^9.
    static func exactDecimal(significand: UInt64, exponent: Int) -> (digits: String, power: Int) {
        var limbs: [UInt64] = []  // base 10^9, least significant first
        var rest = significand
        while rest > 0 { limbs.append(rest % 1_000_000_000); rest /= 1_000_000_000 }
        func multiply(by factor: UInt64) {
            var carry: UInt64 = 0
            for index in limbs.indices {
                let product = limbs[index] * factor + carry
                limbs[index] = product % 1_000_000_000
                carry = product / 1_000_000_000
            }
            while carry > 0 { limbs.append(carry % 1_000_000_000); carry /= 1_000_000_000 }
        }
        // m * 2^e (e >= 0), or m * 5^-e / 10^-e (e < 0); by 2^29 or 5^13 at a time (products stay below 2^63).
        var left = abs(exponent)
        while left > 0 {
            let step = min(left, exponent >= 0 ? 29 : 13)
            multiply(by: exponent >= 0 ? UInt64(1) << step : (0..<step).reduce(1) { factor, _ in factor * 5 })
            left -= step
        }
        var digits = String(limbs.last!)
        for limb in limbs.dropLast().reversed() {
            let text = String(limb)
            digits += String(repeating: "0", count: 9 - text.count) + text
        }
        return (digits, min(exponent, 0))
    }

    /// Writes digits * 10^power in one of several equivalent spellings.
    static func spell(_ digits: String, power: Int, negative: Bool, style: Int) -> String {
        let sign = negative ? "-" : (style % 5 == 4 ? "+" : "")
        switch style % 3 {
        case 0:
            return "\(sign)\(digits)e\(power)"
        case 1:
            // A point inside or before the digits, the exponent adjusted.
            let point = digits.count / 2
            let integer = String(digits.prefix(point))
            return "\(sign)\(integer.isEmpty ? "0" : integer).\(digits.dropFirst(point))E\(power + digits.count - point)"
        default:
            if power >= 0 || -power > 30 { return "\(sign)\(digits)e\(power)" }
            // Plain decimal notation with leading zeros as needed.
            let padded = String(repeating: "0", count: max(0, -power - digits.count + 1)) + digits
            let cut = padded.count + power
            return "\(sign)\(padded.prefix(cut)).\(padded.dropFirst(cut))"
        }
    }

    /// One test string, drawn from the kind `kind`.
    static func string(kind: Int, _ random: inout Generator) -> String {
        let negative = random.below(2) == 0
        switch kind {
        case 0:
            // A random finite Double, in as few digits as round-trip (Swift's description) or fewer.
            var value: Double
            repeat { value = Double(bitPattern: random.next()) } while !value.isFinite
            let digits = 1 + random.below(17)
            return String(format: "%.\(digits)g", value)
        case 1:
            // Six decimals, as the benchmark table is written.
            return String(format: "%.6f", (Double(random.next() >> 11) / Double(1 << 53) - 0.5) * 4)
        case 2:
            // Random digit strings of 1 to 40 digits with any point and exponent across the whole range.
            let count = 1 + random.below(40)
            let digits = String((0..<count).map { _ in Character(Unicode.Scalar(UInt8(48 + random.below(10)))) })
            return spell(digits, power: random.below(680) - 360, negative: negative, style: random.below(30))
        case 3, 4:
            // Halfway between two neighbouring Doubles (kind 3), or a little above or below it (kind 4): exact
            // decimal expansions, up to several hundred digits (one in eight between two subnormals).
            let subnormal = random.below(8) == 0
            let exponent = subnormal ? -1074 : random.below(200) - 130  // of the Double's last bit
            let mantissa = subnormal ? random.next() >> 13 : UInt64(1) << 52 | random.next() >> 12
            var (digits, power) = exactDecimal(significand: 2 * mantissa + 1, exponent: exponent - 1)
            if kind == 4 {
                if random.below(2) == 0 || digits.hasSuffix("0") {
                    digits += "1"
                    power -= 1
                } else {
                    let last = digits.last!.wholeNumberValue!
                    digits = digits.dropLast() + String(last - 1) + "999"
                    power -= 3
                }
            }
            return spell(digits, power: power, negative: negative, style: random.below(30))
        case 5:
            // Integers past 2^53, where neighbouring Doubles are 2, 4, ... apart.
            let value = (UInt64(1) << 53) + random.next() % (UInt64(1) << 60)
            return "\(negative ? "-" : "")\(value)"
        case 6:
            // Around the subnormals of Float and of Double, and the largest Doubles.
            let bounds = [(-38, -46), (-307, -324), (305, 308)]
            let (high, low) = bounds[random.below(3)]
            let exponent = min(high, low) + random.below(abs(high - low) + 1)
            let count = 1 + random.below(20)
            let digits = String((0..<count).map { _ in Character(Unicode.Scalar(UInt8(49 + random.below(9)))) })
            return "\(negative ? "-" : "")\(digits.prefix(1)).\(digits.dropFirst())e\(exponent)"
        default:
            // Exact powers of ten and their neighbours at the fast path's edges (10^22, 2^53).
            let power = random.below(50) - 25
            let mantissa = [1, 9_007_199_254_740_991, 9_007_199_254_740_992, 9_007_199_254_740_993, 123_456_789]
            return "\(negative ? "-" : "")\(mantissa[random.below(mantissa.count)])e\(power)"
        }
    }

    /// What the parser did before it read fields in place, as the definition of the format: a field, trimmed of
    /// spaces, tabs and carriage returns, is accepted when Swift's `Double(String)` reads it whole, the value is
    /// finite, and every character is a digit, a point, a sign or an exponent's e.
    static func acceptedBefore(_ field: String) -> Double? {
        let blank: Set<Character> = [" ", "\t", "\r"]
        let trimmed = String(field.drop(while: { blank.contains($0) }).reversed().drop(while: { blank.contains($0) })
            .reversed())
        guard let value = Double(trimmed), value.isFinite,
              trimmed.allSatisfy({ "0123456789.+-eE".contains($0) }) else { return nil }
        return value
    }

    @Test("a million short fields of digits, points, signs, exponents, blanks and letters: accepted exactly when, and with the bits, the general parser accepts them")
    func againstTheGeneralParser() throws {
        var random = Generator(state: 42)
        let alphabet = Array("0123456789012345678901234567890123456789..++--eeE  \t\rxnaifI")
        var differences: [String] = []
        for index in 0..<1_000_000 {
            // A first line fixes the delimiter; the field is on the second, which only the line scanner reads. In a
            // comma-separated file a tab is a blank.
            let comma = index % 2 == 0
            var field = String((0..<random.below(12)).map { _ in alphabet[random.below(alphabet.count)] })
            if !comma { field = field.replacingOccurrences(of: "\t", with: " ") }
            let delimiter = comma ? "," : "\t"
            let text = Array("1\(delimiter)7\n\(field)\(delimiter)7\n".utf8)
            var parsed: Double?
            do {
                try DelimitedParser.parse(text, source: "field") { row, values in
                    if row == 1 { parsed = values[0] }
                }
            } catch is JobFailure {
                parsed = nil
            }
            let expected = Self.acceptedBefore(field)
            if parsed?.bitPattern != expected?.bitPattern && differences.count < 10 {
                differences.append("'\(field)': parsed \(String(describing: parsed)), before \(String(describing: expected))")
            }
        }
        #expect(differences.isEmpty, "\(differences)")
    }

    @Test("ten million random and adversarial decimal strings give strtod's bits")
    func againstStrtod() throws {
        var random = Generator(state: 20_261_206)
        var differences: [String] = []
        var compared = 0
        var kinds = [Int](repeating: 0, count: 8)
        while compared < Self.strings {
            var text: [UInt8] = []
            var expected: [UInt64] = []
            var sources: [String] = []
            while expected.count < Self.perBatch {
                for column in 0..<Self.perLine {
                    let kind = random.below(8)
                    var string = Self.string(kind: kind, &random)
                    var value = strtod(string, nil)
                    // The format refuses what does not fit a Double: replace it with what does.
                    if !value.isFinite { string = "1e308"; value = 1e308 }
                    kinds[kind] += 1
                    text += Array(string.utf8)
                    text.append(column == Self.perLine - 1 ? 10 : 9)
                    expected.append(value.bitPattern)
                    sources.append(string)
                }
            }
            var index = 0
            try DelimitedParser.parse(text, source: "strings") { _, values in
                for value in values {
                    if value.bitPattern != expected[index] && differences.count < 10 {
                        differences.append("\(sources[index]): parsed \(value), strtod \(Double(bitPattern: expected[index]))")
                    }
                    index += 1
                }
            }
            #expect(index == expected.count)
            compared += expected.count
        }
        #expect(differences.isEmpty, "\(differences)")
        #expect(compared >= Self.strings && kinds.allSatisfy { $0 > Self.strings / 10 }, "\(kinds)")
    }
}
