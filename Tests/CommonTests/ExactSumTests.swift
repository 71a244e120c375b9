import Common
import Testing
import TestSupport

@Suite("Exact sums")
struct ExactSumTests {
    /// The sum of `values` in `limbs` limbs, added in the given order.
    private func sum(_ values: [Double], limbs: Int = ExactSum.narrowLimbs) -> [Int64] {
        var sum = [Int64](repeating: 0, count: limbs)
        for value in values { #expect(ExactSum.add(value, to: &sum, limbs: limbs)) }
        return sum
    }

    @Test("any order and any split into merged partial sums gives the same bits, the correctly rounded total")
    func orderIndependent() {
        var random = TestRandom(state: 21)
        // Multiples of 2^-64 below 2^40 in magnitude, so that Int128 holds their exact total.
        let values = (0..<2000).map { _ -> Double in
            let units = Double(Int64(bitPattern: random.next()) >> Int(random.next() % 60))
            return units * Double(sign: .plus, exponent: -Int(random.next() % 40), significand: 1)
        }
        let exact = values.reduce(Int128(0)) { $0 + Int128(($1 * 0x1p64).rounded()) }
        let expected = Double(exact) * 0x1p-64
        let forward = sum(values)
        #expect(ExactSum.double(forward, limbs: 4) == expected)
        #expect(sum(values.reversed()) == forward)
        var merged = [Int64](repeating: 0, count: 4)
        for chunk in stride(from: 0, to: values.count, by: 333) {
            // Added limb by limb, as the integer allreduce adds them.
            let part = sum(Array(values[chunk..<min(chunk + 333, values.count)]))
            for limb in 0..<4 { merged[limb] &+= part[limb] }
        }
        #expect(ExactSum.double(merged, limbs: 4) == expected && ExactSum.double(merged, limbs: 4) != 0)
    }

    @Test("a value is rounded once to a multiple of 2^-64, ties to even; the total is rounded once")
    func rounding() {
        let unit = 0x1p-64
        #expect(ExactSum.double(sum([0.75 * unit]), limbs: 4) == unit)
        #expect(ExactSum.double(sum([0.5 * unit]), limbs: 4) == 0)
        #expect(ExactSum.double(sum([1.5 * unit]), limbs: 4) == 2 * unit)
        // 1 + 2^-53 lies halfway between two Doubles and rounds to even (1); anything above it rounds up, however
        // far below the rounding position it is.
        #expect(ExactSum.double(sum([1, 0x1p-53]), limbs: 4) == 1)
        #expect(ExactSum.double(sum([1, 0x1p-53, unit]), limbs: 4) == 1 + 0x1p-52)
        #expect(ExactSum.double(sum([0x1p40, 0x1p-13]), limbs: 4) == 0x1p40)
        #expect(ExactSum.double(sum([0x1p40, 0x1p-13, unit]), limbs: 4) == 0x1p40 + 0x1p-12, "three limbs apart")
        #expect(ExactSum.double(sum([-0x1p40, -0x1p-13, -unit]), limbs: 4) == -(0x1p40 + 0x1p-12))
        #expect(ExactSum.double(sum([1e15, 1, -1e15]), limbs: 4) == 1, "no cancellation")
        #expect(ExactSum.double(sum([-3, 1]), limbs: 4) == -2)
    }

    @Test("values that are not finite or too large for the limbs are refused; wide limbs hold any Float")
    func range() {
        var narrow = [Int64](repeating: 0, count: 4)
        #expect(!ExactSum.add(.infinity, to: &narrow, limbs: 4))
        #expect(!ExactSum.add(.nan, to: &narrow, limbs: 4))
        #expect(!ExactSum.add(0x1p63, to: &narrow, limbs: 4))
        #expect(narrow == [0, 0, 0, 0], "a refused value adds nothing")
        #expect(ExactSum.add(0x1p62, to: &narrow, limbs: 4) && ExactSum.double(narrow, limbs: 4) == 0x1p62)
        let largest = Double(Float.greatestFiniteMagnitude)
        let wide = sum([largest, -largest / 2], limbs: ExactSum.wideLimbs)
        #expect(ExactSum.double(wide, limbs: ExactSum.wideLimbs) == largest / 2)
    }
}

@Suite("Exact sums: carrying between limbs")
struct ExactSumCarryTests {
    @Test("a carry keeps the value and leaves every limb but the top below 2^32, so merged sums cannot overflow")
    func carryKeepsTheValue() {
        var random = TestRandom(state: 33)
        let limbs = ExactSum.wideLimbs
        for _ in 0..<200 {
            // As if 2^30 additions had piled up: limbs near 2^62 of either sign.
            var sum = (0..<limbs).map { _ in Int64(bitPattern: random.next()) >> 2 }
            sum[limbs - 1] >>= 20
            let before = ExactSum.double(sum, limbs: limbs)
            #expect(ExactSum.carry(&sum, limbs: limbs))
            #expect(ExactSum.double(sum, limbs: limbs) == before)
            #expect(sum.dropLast().allSatisfy { (0..<(1 << 32)).contains($0) }, "\(sum)")
        }
        var full = [Int64](repeating: 0, count: limbs)
        full[limbs - 1] = 1 << 62
        #expect(!ExactSum.carry(&full, limbs: limbs), "a top limb with no room left is reported")
    }
}
