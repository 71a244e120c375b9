import Kernels
import Testing

@Suite("Line-aligned storage")
struct LineAlignedStorageTests {
    @Test("every buffer starts on a 64-byte line, holds its count and can be written end to end")
    func startsOnALine() {
        // Twenty allocations of assorted sizes: malloc's 16-byte alignment would land on a line about one time in
        // four, so all twenty on lines does not happen by chance.
        let buffers = (0..<20).map { UnsafeMutableBufferPointer<Float>.allocateLineAligned(count: 1 + 37 * $0) }
        defer { buffers.forEach { $0.deallocateLineAligned() } }
        for buffer in buffers {
            #expect(Int(bitPattern: buffer.baseAddress) % 64 == 0)
            buffer.initialize(repeating: 2)
            #expect(buffer.reduce(0, +) == Float(2 * buffer.count))
        }
        #expect(buffers.map(\.count) == (0..<20).map { 1 + 37 * $0 })
    }
}
