extension UnsafeMutableBufferPointer {
    /// Uninitialised storage for `count` elements that starts on a 64-byte cache line. The kernels load and store
    /// rows of `B` and `C` as 64-byte vectors; a row that straddles two lines costs two loads (the one-row forward
    /// product of a 64-wide layer ran a fifth slower with its weights 16 bytes off a line), and the default
    /// allocation aligns to 16 bytes only. A model's and the trainer's buffers
    /// come from here, so weight matrices whose rows are a multiple of 16 floats wide have every row on a line.
    /// Release with ``deallocateLineAligned()``.
    public static func allocateLineAligned(count: Int) -> UnsafeMutableBufferPointer<Element> {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(count, 1) * MemoryLayout<Element>.stride, alignment: 64)
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: Element.self, capacity: count), count: count)
    }

    /// Releases storage from ``allocateLineAligned(count:)``.
    public func deallocateLineAligned() {
        baseAddress.map { UnsafeMutableRawPointer($0).deallocate() }
    }
}
