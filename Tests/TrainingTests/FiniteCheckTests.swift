import Testing
import Training

@Suite("The gradient's finiteness check")
struct FiniteCheckTests {
    static let lengths = [0, 1, 7, 31, 32, 33, 64, 70, 4609]

    @Test("finite values, however large or small, pass at every length")
    func finiteValuesPass() {
        let extremes: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -0, 1]
        for length in Self.lengths {
            let values = (0..<length).map { extremes[$0 % extremes.count] }
            let finite = values.withUnsafeBufferPointer(allFinite)
            #expect(finite, "length \(length)")
        }
    }

    @Test("one infinity or NaN anywhere, in the vector groups or the tail, fails")
    func oneBadValueFails() {
        for length in Self.lengths where length > 0 {
            for position in Set([0, length / 2, min(31, length - 1), min(32, length - 1), length - 1]) {
                for bad: Float in [.infinity, -.infinity, .nan, -.nan, .signalingNaN] {
                    var values = [Float](repeating: 0.5, count: length)
                    values[position] = bad
                    let finite = values.withUnsafeBufferPointer(allFinite)
                    #expect(!finite, "length \(length), \(bad) at \(position)")
                }
            }
        }
    }
}
