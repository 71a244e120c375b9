import Checksums
import Testing

@Suite("Block checksums of binary data files")
struct BlockChecksumTests {
    @Test("XXH3-64 gives the reference values of xxHash's own test vectors")
    func referenceValues() {
        // XXH3_64bits with seed 0 of the empty input and of the 14-byte ASCII text below, as `printf ... |
        // xxhsum -H3` prints them (Debian's xxhash 0.8.1), so other tools can check a block too.
        #expect([UInt8]().withUnsafeBytes { BlockChecksum.of($0) } == 0x2D06_8005_38D3_94C2)
        #expect(Array("airfoil-dp 0.3".utf8).withUnsafeBytes { BlockChecksum.of($0) } == 0xD938_0955_1AD6_0D9D)
    }

    @Test("a flipped bit anywhere in a 1 MiB block changes its checksum")
    func seesOneBit() {
        var block = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let original = block.withUnsafeBytes { BlockChecksum.of($0) }
        for index in [0, 1, 4095, 4096, 700_001, (1 << 20) - 1] {
            block[index] ^= 0x10
            #expect(block.withUnsafeBytes { BlockChecksum.of($0) } != original, "byte \(index)")
            block[index] ^= 0x10
        }
        #expect(block.withUnsafeBytes { BlockChecksum.of($0) } == original)
    }
}
