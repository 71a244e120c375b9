import Foundation

/// A failed system call's `errno`, captured at once: any later call, `close` included, may overwrite errno.
public struct SystemError: Error, Sendable {
    public let code: Int32

    /// The error of the call that just failed.
    public init(code: Int32 = errno) {
        self.code = code
    }

    /// The system's text for the error ("No space left on device").
    public var reason: String { String(cString: strerror(code)) }
}

/// Writes every byte of `bytes` to `descriptor`, retrying after interruptions and short writes.
/// - Returns: nil when every byte was written, else the ``SystemError`` of the first `write` that failed (EIO for
///   one that wrote nothing).
@discardableResult
public func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> SystemError? {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return SystemError(code: written == 0 ? EIO : errno) }
        offset += written
    }
    return nil
}
