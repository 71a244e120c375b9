/// A 64-byte aligned float buffer that grows on demand and is reused across calls.
struct PackingBuffer: ~Copyable {
    private var storage: UnsafeMutablePointer<Float>?
    private var capacity = 0

    /// Returns storage for at least `count` floats, reallocating only when it must grow.
    mutating func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let storage, capacity >= count { return storage }
        storage.map { UnsafeMutableRawPointer($0).deallocate() }
        capacity = max(count, 16)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64)
        let pointer = raw.bindMemory(to: Float.self, capacity: capacity)
        storage = pointer
        return pointer
    }

    deinit {
        storage.map { UnsafeMutableRawPointer($0).deallocate() }
    }
}
