import Glibc

/// Reads one decimal number from its bytes, correctly rounded to the nearest Double, without making a String.
///
/// The grammar is the data format's: an optional sign, digits with an optional point (at least one digit), and an
/// optional exponent (`e` or `E`, an optional sign, at least one digit). That is exactly the set of decimal-only
/// strings that `strtod` reads whole, so for every string it accepts the result has strtod's bits (glibc's is
/// correctly rounded), which are what the parser gave before it had this fast path.
///
/// Most numbers in data have at most 15 significant digits and a small exponent: their digits are an integer
/// `m < 2^53` and their value `m * 10^e` with `|e| <= 22`, where `m` and `10^|e|` are both exact Doubles and one
/// IEEE multiplication or division rounds the exact value once, correctly (Clinger's fast path). The others (more
/// digits, larger exponents) go to `strtod` on a stack copy of the bytes.
enum DecimalNumber {
    /// The longest field handed to `strtod`; a longer one is left to the caller's general path.
    static let longestField = 512

    /// The value of the `count` bytes at `start`, or nil when they are not a number of the grammar or the value is
    /// not finite (too large for a Double): the caller then reports the field.
    @inline(__always)
    static func parse(_ start: UnsafePointer<UInt8>, count: Int) -> Double? {
        guard let (value, end) = scan(start, limit: start + count), end == start + count else { return nil }
        return value
    }

    /// Reads the number of the grammar that starts at `start` (the longest, going no further than `limit`): its
    /// value and where it ends; nil when no number starts there, when one ends in an exponent without digits, or
    /// when its value is not finite.
    @inline(__always)
    static func scan(_ start: UnsafePointer<UInt8>, limit: UnsafePointer<UInt8>)
        -> (value: Double, end: UnsafePointer<UInt8>)?
    {
        var cursor = start
        var negative = false
        if cursor < limit && (cursor.pointee == minus || cursor.pointee == plus) {
            negative = cursor.pointee == minus
            cursor += 1
        }
        var mantissa: UInt64 = 0
        let integerStart = cursor
        while cursor < limit, case let digit = cursor.pointee &- zero, digit < 10 {
            mantissa = mantissa &* 10 &+ UInt64(digit)
            cursor += 1
        }
        var digits = cursor - integerStart
        var fractionDigits = 0
        if cursor < limit && cursor.pointee == point {
            cursor += 1
            let fractionStart = cursor
            while cursor < limit, case let digit = cursor.pointee &- zero, digit < 10 {
                mantissa = mantissa &* 10 &+ UInt64(digit)
                cursor += 1
            }
            fractionDigits = cursor - fractionStart
            digits += fractionDigits
        }
        guard digits > 0 else { return nil }
        var exponent = 0
        if cursor < limit && cursor.pointee | 0x20 == lowercaseE {
            cursor += 1
            var exponentNegative = false
            if cursor < limit && (cursor.pointee == minus || cursor.pointee == plus) {
                exponentNegative = cursor.pointee == minus
                cursor += 1
            }
            let exponentStart = cursor
            while cursor < limit, case let digit = cursor.pointee &- zero, digit < 10 {
                // Past a million the value is 0 or infinite whatever follows; stop growing.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(digit) }
                cursor += 1
            }
            guard cursor > exponentStart else { return nil }
            if exponentNegative { exponent = -exponent }
        }
        // Up to 19 digits cannot overflow UInt64; `mantissa` is then the digits' integer exactly.
        if digits <= 19 {
            if mantissa == 0 { return (negative ? -0.0 : 0.0, cursor) }
            let power = exponent - fractionDigits
            if mantissa <= 1 << 53 && power >= -22 && power <= 22 {
                let exact = Double(mantissa)
                let value = power < 0 ? exact / powerOfTen(-power) : exact * powerOfTen(power)
                return (negative ? -value : value, cursor)
            }
        }
        return correctlyRounded(start, count: cursor - start).map { ($0, cursor) }
    }

    /// `strtod` on a NUL-terminated copy of the bytes; nil when the value is not finite, the field is longer than
    /// ``longestField``, or strtod stops short of its end (a grammar-checked number is read whole in the C locale;
    /// under a locale whose decimal point is not `.` the general path, which uses the C locale, takes it).
    private static func correctlyRounded(_ start: UnsafePointer<UInt8>, count: Int) -> Double? {
        guard count <= longestField else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { copy in
            let base = copy.baseAddress!
            UnsafeMutableRawPointer(base).copyMemory(from: start, byteCount: count)
            base[count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(base, &end)
            return value.isFinite && end == base + count ? value : nil
        }
    }

    /// 10^power for 0 <= power <= 22, the powers of ten that are exact Doubles (a switch of literals: a table in
    /// the binary, where a static array would be initialised lazily and checked at every use).
    @inline(__always)
    private static func powerOfTen(_ power: Int) -> Double {
        switch power {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }

    private static let zero = UInt8(ascii: "0")
    private static let minus = UInt8(ascii: "-")
    private static let plus = UInt8(ascii: "+")
    private static let point = UInt8(ascii: ".")
    private static let lowercaseE = UInt8(ascii: "e")
}
