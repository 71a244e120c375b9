import Models
import TestSupport
import Testing

/// The scales of `--reproducible`'s integer gradient keep their promises: every term below 2^51 after scaling (the
/// kernels' rounding is exact there), any sum of `rows` terms below 2^62, and Doubles that stay normal.
@Suite("Fixed-point scales")
struct FixedPointScaleTests {
    @Test("twice the bounds' product, scaled, is within 2^50 and 2^61 / rows; the grid is as fine as that allows")
    func boundsFit() throws {
        var random = TestRandom(state: 3)
        for _ in 0..<10_000 {
            let activation = Double(sign: .plus, exponent: random.int(-60...200), significand: 1 + Double(random.float().magnitude))
            let delta = Double(sign: .plus, exponent: random.int(-200...200), significand: 1 + Double(random.float().magnitude))
            let rows = random.int(1...(1 << random.int(0...22)))  // spread over the powers of two
            let scale = try #require(FixedPointScale(activationBound: activation, deltaBound: delta, rows: rows))
            let largest = 2 * activation * scale.activationScale * delta * scale.deltaScale
            let limit = min(0x1p50, 0x1p61 / Double(rows))
            #expect(largest <= limit, "\(activation) \(delta) \(rows)")
            // One more bit of scale would break it (the grid is not coarser than needed), unless capped.
            #expect(largest * 2 > limit / 4 || scale.deltaExponent == 1000 - scale.activationExponent)
            #expect(activation * scale.activationScale < 2)
            #expect(scale.unit == 1 / (scale.activationScale * scale.deltaScale))
        }
    }

    @Test("zero bounds and tiny ones keep the scales normal Doubles")
    func extremes() throws {
        for (activation, delta) in [(0.0, 0.0), (1.0, 0.0), (0.0, 5.0), (1.0, 0x1p-1000), (0x1p-600, 0x1p-600),
                                    (0x1p-1050, 1.0), (0x1p-1050, 0x1p-1050)] {
            let scale = try #require(FixedPointScale(activationBound: activation, deltaBound: delta, rows: 10))
            #expect(scale.activationScale.isNormal && scale.deltaScale.isNormal && scale.unit.isNormal)
        }
    }

    @Test("no scale for bounds that are not finite or beyond 2^900 (diverged parameters)")
    func refusals() {
        for (activation, delta) in [(Double.nan, 1.0), (1.0, .infinity), (0x1p901, 1.0), (0x1p500, 0x1p500)] {
            #expect(FixedPointScale(activationBound: activation, deltaBound: delta, rows: 10) == nil)
        }
    }
}
