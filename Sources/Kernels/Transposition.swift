/// Copies the `rows x columns` matrix at `source` (row stride `sourceStride`) into `target` transposed
/// (`columns x rows`, row stride `rows`): four by four blocks through registers, four loads, eight shuffles and
/// four stores each, which the baseline's 128-bit vectors have on every CPU. The direct product's `A B^T` for more
/// than a few rows transposes the MLP's 64 x 64 weights with it every step (element by element it took a third of
/// the 25-row product).
func transposedCopy(
    _ source: UnsafePointer<Float>, rows: Int, columns: Int, sourceStride: Int, into target: UnsafeMutablePointer<Float>
) {
    typealias Quad = SIMD4<Float>
    let wholeRows = rows / 4 * 4
    let wholeColumns = columns / 4 * 4
    for row in stride(from: 0, to: wholeRows, by: 4) {
        let line = source + row * sourceStride
        for column in stride(from: 0, to: wholeColumns, by: 4) {
            let r0 = UnsafeRawPointer(line + column).loadUnaligned(as: Quad.self)
            let r1 = UnsafeRawPointer(line + sourceStride + column).loadUnaligned(as: Quad.self)
            let r2 = UnsafeRawPointer(line + 2 * sourceStride + column).loadUnaligned(as: Quad.self)
            let r3 = UnsafeRawPointer(line + 3 * sourceStride + column).loadUnaligned(as: Quad.self)
            // Interleave pairs of rows, then take halves: the 4 x 4 transposition in eight shuffles.
            let low01 = Quad(r0[0], r1[0], r0[1], r1[1]), high01 = Quad(r0[2], r1[2], r0[3], r1[3])
            let low23 = Quad(r2[0], r3[0], r2[1], r3[1]), high23 = Quad(r2[2], r3[2], r2[3], r3[3])
            let out = UnsafeMutableRawPointer(target + column * rows + row)
            let stride = rows * 4
            out.storeBytes(of: Quad(lowHalf: low01.lowHalf, highHalf: low23.lowHalf), as: Quad.self)
            out.storeBytes(of: Quad(lowHalf: low01.highHalf, highHalf: low23.highHalf), toByteOffset: stride,
                           as: Quad.self)
            out.storeBytes(of: Quad(lowHalf: high01.lowHalf, highHalf: high23.lowHalf), toByteOffset: 2 * stride,
                           as: Quad.self)
            out.storeBytes(of: Quad(lowHalf: high01.highHalf, highHalf: high23.highHalf), toByteOffset: 3 * stride,
                           as: Quad.self)
        }
        for column in wholeColumns..<columns {
            for i in 0..<4 { target[column * rows + row + i] = line[i * sourceStride + column] }
        }
    }
    for row in wholeRows..<rows {
        for column in 0..<columns { target[column * rows + row] = source[row * sourceStride + column] }
    }
}
