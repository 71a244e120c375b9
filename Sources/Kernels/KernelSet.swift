import CKernelSupport
import Foundation
import KernelCore
import KernelsAVX2
import KernelsAVX512
import KernelsPortable

/// One instruction set's kernels and block sizes, chosen when the program starts, as OpenBLAS's DYNAMIC_ARCH and
/// BLIS's configuration registry do: the binary is built for the baseline CPU and carries a micro-kernel per
/// instruction set, each compiled for its own (`Package.swift`).
public struct KernelSet: Sendable {
    /// The names users see (`AIRFOIL_DP_KERNEL`, `airfoil-dp info`, the run log's `kernel`).
    public enum Name: String, CaseIterable, Sendable {
        case avx512, avx2, portable
    }

    public typealias Tile = @Sendable (
        Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Float, Int, Int
    ) -> Void

    public let name: Name
    /// The register tile: rows of `op(A)` and columns of `op(B)` per micro-kernel call.
    public let tileRows: Int
    public let tileColumns: Int
    /// Rows of `op(A)` packed per block (`mc`, L2), depth per panel (`kc`, L1) and columns per panel (`nc`, L3).
    public let blockRows: Int
    public let blockDepth: Int
    public let blockColumns: Int
    /// The most elements of `op(B)` for which a product with `A` as stored takes the packing-free path
    /// (`KernelCore.directProduct`) rather than the packed one: measured per set, past L1, since streaming a 64-column
    /// block of `B` from L2 cost less than packing both operands up to these sizes (``GEMM``).
    public let directLimit: Int
    /// Vector lanes of the widest FMA this kernel uses, and of the peak loop's chains (FLOP per cycle per pipe / 2).
    public let fmaLanes: Int
    let tile: Tile
    public typealias PackA = @Sendable (
        Bool, UnsafePointer<Float>, Int, Int, Int, Int, Int, Float, UnsafeMutablePointer<Float>
    ) -> Void
    let packA: PackA
    let packB: @Sendable (Bool, UnsafePointer<Float>, Int, Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    let dot: @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float
    let scaledAdd: @Sendable (Float, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    /// The optimizer's update rules (bit-identical on every set: no fused multiply-add).
    public let update: @Sendable (
        UpdateRule, UpdateConstants, UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>,
        UnsafeMutablePointer<Float>, Int
    ) -> Void
    /// The packing-free product for small shapes (`KernelCore.directProduct`): m, n, k, alpha, A, A's row and depth
    /// strides, B, ldb, beta, C, ldc, `16 k` floats of scratch, whether rows must not depend on their batch.
    let directProduct: @Sendable (
        Int, Int, Int, Float, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, Float,
        UnsafeMutablePointer<Float>, Int, UnsafeMutablePointer<Float>, Bool
    ) -> Void
    /// `--reproducible`'s integer sums of rounded products (`KernelCore.fixedPointOuterSum`): rows, left, its row
    /// stride and count, right, its row stride and count, sums, their strides along left and right.
    public let fixedPointOuterSum: @Sendable (
        Int, UnsafePointer<Double>, Int, Int, UnsafePointer<Double>, Int, Int, UnsafeMutablePointer<Int64>, Int, Int
    ) -> Void
    /// `--reproducible`'s Floats as scaled Doubles (`KernelCore.widenScaled`): source, its row stride, rows, width,
    /// scale, target, the target's row width.
    public let widenScaled: @Sendable (
        UnsafePointer<Float>, Int, Int, Int, Double, UnsafeMutablePointer<Double>, Int
    ) -> Void
    /// `--reproducible`'s bounds: `sums[i] += bound |weights[i]|` (`KernelCore.addScaledMagnitudes`): weights, bound,
    /// sums, count.
    public let addScaledMagnitudes: @Sendable (UnsafePointer<Float>, Double, UnsafeMutablePointer<Double>, Int) -> Void
    /// `--reproducible`'s bounds: `sum_i |weights[i]| bounds[i]` (`KernelCore.magnitudeDot`): weights, bounds, count.
    public let magnitudeDot: @Sendable (UnsafePointer<Float>, UnsafePointer<Double>, Int) -> Double
    /// `--reproducible`'s Float gradient from its integer sums (`KernelCore.fixedPointGradient`): the two halves'
    /// sums, count, unit, the halves' units for the noise scale, the gradient; returns the halves' squared distance.
    public let fixedPointGradient: @Sendable (
        UnsafePointer<Int64>, UnsafePointer<Int64>, Int, Double, Double, Double, UnsafeMutablePointer<Float>
    ) -> Double
    /// The linear model's gradient in `--reproducible`'s integers (`KernelCore.linearFixedPointGradient`): columns,
    /// column stride, width, targets, count, weights, the inputs' and residuals' scales, sums, `width` vectors of
    /// scratch.
    public let linearFixedPointGradient: @Sendable (
        UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Double, Double,
        UnsafeMutablePointer<Int64>, UnsafeMutablePointer<SIMD8<Int64>>
    ) -> Void
    /// `A B^T` for few rows of `A` by dot products (`KernelCore.transposedProduct`): m, n, k, alpha, A, lda, B, ldb,
    /// beta, C, ldc.
    let transposedProduct: @Sendable (
        Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, Float, UnsafeMutablePointer<Float>, Int
    ) -> Void
    /// The linear model's summed gradient over a batch stored column by column (`KernelCore.linearGradient`):
    /// columns, column stride, width, targets, count, weights, gradient, `width` vectors of scratch.
    public let linearGradient: @Sendable (
        UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>,
        UnsafeMutablePointer<SIMD16<Float>>
    ) -> Void
    /// Twelve independent multiply-add chains of ``fmaLanes`` lanes (`bench gemm`'s peak).
    public let multiplyAddChains: @Sendable (Int) -> Float
    /// A tile with fewer rows, for products of at most `rows` rows (small local batches), with its packing.
    let narrow: (rows: Int, tile: Tile, packA: PackA)?

    /// The set for `name` (whether or not this CPU can run it: see ``supported``).
    public static func named(_ name: Name) -> KernelSet {
        switch name {
        case .avx512:
            KernelSet(
                name: .avx512, tileRows: AVX512Kernels.tileRows, tileColumns: AVX512Kernels.tileColumns,
                blockRows: 480, blockDepth: 256, blockColumns: 3072, directLimit: 262_144, fmaLanes: 16,
                tile: { AVX512Kernels.tile(depth: $0, a: $1, b: $2, c: $3, ldc: $4, beta: $5, rows: $6, columns: $7) },
                packA: {
                    AVX512Kernels.packA($0, a: $1, lda: $2, rowOffset: $3, depthOffset: $4, rows: $5, depth: $6, alpha: $7,
                                     into: $8)
                },
                packB: {
                    AVX512Kernels.packB($0, b: $1, ldb: $2, depthOffset: $3, columnOffset: $4, depth: $5, columns: $6,
                                     into: $7)
                },
                dot: { AVX512Kernels.dot($0, $1, count: $2) },
                scaledAdd: { AVX512Kernels.scaledAdd($0, $1, $2, count: $3) },
                update: {
                    AVX512Kernels.update($0, $1, weights: $2, gradientSum: $3, first: $4, second: $5, count: $6)
                },
                directProduct: {
                    AVX512Kernels.directProduct(m: $0, n: $1, k: $2, alpha: $3, a: $4, aRowStride: $5, aDepthStride: $6, b: $7,
                                      ldb: $8, beta: $9, c: $10, ldc: $11, edgeSliver: $12, rowInvariant: $13)
                },
                fixedPointOuterSum: {
                    AVX512Kernels.fixedPointOuterSum(rows: $0, left: $1, leftStride: $2, leftCount: $3, right: $4,
                                           rightStride: $5, rightCount: $6, sums: $7, sumsLeftStride: $8,
                                           sumsRightStride: $9)
                },
                widenScaled: {
                    AVX512Kernels.widenScaled($0, stride: $1, rows: $2, width: $3, scale: $4, into: $5, paddedWidth: $6)
                },
                addScaledMagnitudes: { AVX512Kernels.addScaledMagnitudes($0, times: $1, to: $2, count: $3) },
                magnitudeDot: { AVX512Kernels.magnitudeDot($0, $1, count: $2) },
                fixedPointGradient: {
                    AVX512Kernels.fixedPointGradient(first: $0, second: $1, count: $2, unit: $3, firstUnit: $4, secondUnit: $5,
                                           into: $6)
                },
                linearFixedPointGradient: {
                    AVX512Kernels.linearFixedPointGradient(columns: $0, columnStride: $1, width: $2, targets: $3, count: $4,
                                                 weights: $5, inputScale: $6, residualScale: $7, sums: $8,
                                                 accumulators: $9)
                },
                transposedProduct: {
                    AVX512Kernels.transposedProduct(m: $0, n: $1, k: $2, alpha: $3, a: $4, lda: $5, b: $6, ldb: $7, beta: $8,
                                          c: $9, ldc: $10)
                },
                linearGradient: {
                    AVX512Kernels.linearGradient(columns: $0, columnStride: $1, width: $2, targets: $3, count: $4, weights: $5,
                                       gradient: $6, accumulators: $7)
                },
                multiplyAddChains: { AVX512Kernels.multiplyAddChains($0) },
                narrow: (
                    AVX512Kernels.narrowTileRows,
                    { AVX512Kernels.narrowTile(depth: $0, a: $1, b: $2, c: $3, ldc: $4, beta: $5, rows: $6, columns: $7) },
                    {
                        AVX512Kernels.packANarrow($0, a: $1, lda: $2, rowOffset: $3, depthOffset: $4, rows: $5, depth: $6,
                                                  alpha: $7, into: $8)
                    }
                ))
        case .avx2:
            KernelSet(
                name: .avx2, tileRows: AVX2Kernels.tileRows, tileColumns: AVX2Kernels.tileColumns,
                blockRows: 144, blockDepth: 256, blockColumns: 4080, directLimit: 65_536, fmaLanes: 8,
                tile: { AVX2Kernels.tile(depth: $0, a: $1, b: $2, c: $3, ldc: $4, beta: $5, rows: $6, columns: $7) },
                packA: {
                    AVX2Kernels.packA($0, a: $1, lda: $2, rowOffset: $3, depthOffset: $4, rows: $5, depth: $6, alpha: $7,
                                     into: $8)
                },
                packB: {
                    AVX2Kernels.packB($0, b: $1, ldb: $2, depthOffset: $3, columnOffset: $4, depth: $5, columns: $6,
                                     into: $7)
                },
                dot: { AVX2Kernels.dot($0, $1, count: $2) },
                scaledAdd: { AVX2Kernels.scaledAdd($0, $1, $2, count: $3) },
                update: {
                    AVX2Kernels.update($0, $1, weights: $2, gradientSum: $3, first: $4, second: $5, count: $6)
                },
                directProduct: {
                    AVX2Kernels.directProduct(m: $0, n: $1, k: $2, alpha: $3, a: $4, aRowStride: $5, aDepthStride: $6, b: $7,
                                      ldb: $8, beta: $9, c: $10, ldc: $11, edgeSliver: $12, rowInvariant: $13)
                },
                fixedPointOuterSum: {
                    AVX2Kernels.fixedPointOuterSum(rows: $0, left: $1, leftStride: $2, leftCount: $3, right: $4,
                                           rightStride: $5, rightCount: $6, sums: $7, sumsLeftStride: $8,
                                           sumsRightStride: $9)
                },
                widenScaled: {
                    AVX2Kernels.widenScaled($0, stride: $1, rows: $2, width: $3, scale: $4, into: $5, paddedWidth: $6)
                },
                addScaledMagnitudes: { AVX2Kernels.addScaledMagnitudes($0, times: $1, to: $2, count: $3) },
                magnitudeDot: { AVX2Kernels.magnitudeDot($0, $1, count: $2) },
                fixedPointGradient: {
                    AVX2Kernels.fixedPointGradient(first: $0, second: $1, count: $2, unit: $3, firstUnit: $4, secondUnit: $5,
                                           into: $6)
                },
                linearFixedPointGradient: {
                    AVX2Kernels.linearFixedPointGradient(columns: $0, columnStride: $1, width: $2, targets: $3, count: $4,
                                                 weights: $5, inputScale: $6, residualScale: $7, sums: $8,
                                                 accumulators: $9)
                },
                transposedProduct: {
                    AVX2Kernels.transposedProduct(m: $0, n: $1, k: $2, alpha: $3, a: $4, lda: $5, b: $6, ldb: $7, beta: $8,
                                          c: $9, ldc: $10)
                },
                linearGradient: {
                    AVX2Kernels.linearGradient(columns: $0, columnStride: $1, width: $2, targets: $3, count: $4, weights: $5,
                                       gradient: $6, accumulators: $7)
                },
                multiplyAddChains: { AVX2Kernels.multiplyAddChains($0) }, narrow: nil)
        case .portable:
            KernelSet(
                name: .portable, tileRows: PortableKernels.tileRows, tileColumns: PortableKernels.tileColumns,
                blockRows: 144, blockDepth: 256, blockColumns: 4080, directLimit: 65_536, fmaLanes: 4,
                tile: { PortableKernels.tile(depth: $0, a: $1, b: $2, c: $3, ldc: $4, beta: $5, rows: $6, columns: $7) },
                packA: {
                    PortableKernels.packA($0, a: $1, lda: $2, rowOffset: $3, depthOffset: $4, rows: $5, depth: $6, alpha: $7,
                                     into: $8)
                },
                packB: {
                    PortableKernels.packB($0, b: $1, ldb: $2, depthOffset: $3, columnOffset: $4, depth: $5, columns: $6,
                                     into: $7)
                },
                dot: { PortableKernels.dot($0, $1, count: $2) },
                scaledAdd: { PortableKernels.scaledAdd($0, $1, $2, count: $3) },
                update: {
                    PortableKernels.update($0, $1, weights: $2, gradientSum: $3, first: $4, second: $5, count: $6)
                },
                directProduct: {
                    PortableKernels.directProduct(m: $0, n: $1, k: $2, alpha: $3, a: $4, aRowStride: $5, aDepthStride: $6, b: $7,
                                      ldb: $8, beta: $9, c: $10, ldc: $11, edgeSliver: $12, rowInvariant: $13)
                },
                fixedPointOuterSum: {
                    PortableKernels.fixedPointOuterSum(rows: $0, left: $1, leftStride: $2, leftCount: $3, right: $4,
                                           rightStride: $5, rightCount: $6, sums: $7, sumsLeftStride: $8,
                                           sumsRightStride: $9)
                },
                widenScaled: {
                    PortableKernels.widenScaled($0, stride: $1, rows: $2, width: $3, scale: $4, into: $5, paddedWidth: $6)
                },
                addScaledMagnitudes: { PortableKernels.addScaledMagnitudes($0, times: $1, to: $2, count: $3) },
                magnitudeDot: { PortableKernels.magnitudeDot($0, $1, count: $2) },
                fixedPointGradient: {
                    PortableKernels.fixedPointGradient(first: $0, second: $1, count: $2, unit: $3, firstUnit: $4, secondUnit: $5,
                                           into: $6)
                },
                linearFixedPointGradient: {
                    PortableKernels.linearFixedPointGradient(columns: $0, columnStride: $1, width: $2, targets: $3, count: $4,
                                                 weights: $5, inputScale: $6, residualScale: $7, sums: $8,
                                                 accumulators: $9)
                },
                transposedProduct: {
                    PortableKernels.transposedProduct(m: $0, n: $1, k: $2, alpha: $3, a: $4, lda: $5, b: $6, ldb: $7, beta: $8,
                                          c: $9, ldc: $10)
                },
                linearGradient: {
                    PortableKernels.linearGradient(columns: $0, columnStride: $1, width: $2, targets: $3, count: $4, weights: $5,
                                       gradient: $6, accumulators: $7)
                },
                multiplyAddChains: { PortableKernels.multiplyAddChains($0) }, narrow: nil)
        }
    }

    /// The sets this CPU can run, fastest first: a set runs only where the CPU has every feature of the level its
    /// module is compiled for (``compiledFeatures(of:)``).
    public static let supported: [KernelSet] = {
        var names: [Name] = []
        if kernels_cpu_runs_avx512_set() != 0 { names.append(.avx512) }
        if kernels_cpu_runs_avx2_set() != 0 { names.append(.avx2) }
        names.append(.portable)
        return names.map(named)
    }()

    /// What a set's module is compiled for, and so what the start-up check asks the CPU for: an x86-64
    /// microarchitecture level and extra features (empty for the portable set, compiled for the baseline).
    public static func compiledFeatures(of name: Name) -> [String] {
        let text = switch name {
        case .avx512: String(cString: kernels_avx512_features())
        case .avx2: String(cString: kernels_avx2_features())
        case .portable: ""
        }
        return text.split(separator: " ").map(String.init)
    }

    /// Why `AIRFOIL_DP_KERNEL` cannot be honoured.
    public struct ChoiceError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The environment variable that forces a set.
    public static let variable = "AIRFOIL_DP_KERNEL"

    /// The set `AIRFOIL_DP_KERNEL` names, else the fastest this CPU supports.
    public static func choose(environment: [String: String]) -> Result<KernelSet, ChoiceError> {
        guard let requested = environment[variable], !requested.isEmpty else { return .success(supported[0]) }
        guard let name = Name(rawValue: requested) else {
            return .failure(ChoiceError(description: "\(variable)='\(requested)' is not a kernel: use "
                + Name.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        guard let set = supported.first(where: { $0.name == name }) else {
            return .failure(ChoiceError(description: "\(variable)=\(requested): this CPU cannot run it (it supports "
                + supported.map(\.name.rawValue).joined(separator: ", ") + ")"))
        }
        return .success(set)
    }

    /// The choice for this process, made once (the executable refuses a bad `AIRFOIL_DP_KERNEL` at start-up).
    public static let selected = choose(environment: ProcessInfo.processInfo.environment)

    /// The set every ``GEMM`` uses unless given another: the selected one, or the fastest when the choice failed.
    public static var active: KernelSet { (try? selected.get()) ?? supported[0] }
}
