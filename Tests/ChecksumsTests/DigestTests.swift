import Checksums
import TestSupport
import Testing

@Suite("Digests and fingerprints")
struct DigestTests {
    @Test("a one-ulp change anywhere in an MLP's parameters and optimizer state changes the replica fingerprint")
    func fingerprintSeesOneULP() {
        // The MLP 5-64-64-1's 4,609 parameters and Adam's two buffers: a Double sum of bit patterns weighted by
        // index passes 2^53 here and lost such changes.
        var random = TestRandom(state: 5)
        var buffers = (0..<3).map { _ in (0..<4609).map { _ in random.float() * 4 } }
        func fingerprint() -> Int64 {
            buffers[0].withUnsafeBytes { parameters in
                buffers[1].withUnsafeBytes { first in
                    buffers[2].withUnsafeBytes { second in Digest.fingerprint([parameters, first, second]) }
                }
            }
        }
        let original = fingerprint()
        #expect(fingerprint() == original)
        for (buffer, index) in [(0, 0), (0, 4608), (1, 2304), (2, 4608), (2, 17)] {
            let kept = buffers[buffer][index]
            buffers[buffer][index] = kept.nextUp
            #expect(fingerprint() != original, "buffer \(buffer), index \(index)")
            buffers[buffer][index] = kept
        }
        #expect(fingerprint() == original)
    }

    @Test("the hex digest is SHA-1 (FIPS 180 test vector)")
    func sha1Vector() {
        #expect(Digest.sha1(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}
