import Kernels
import TestSupport
import Testing

/// One GEMM problem with its operands stored with padded leading dimensions.
struct Problem: CustomTestStringConvertible {
    var transA: Transpose, transB: Transpose
    var m: Int, n: Int, k: Int
    var alpha: Float, beta: Float
    var lda: Int, ldb: Int, ldc: Int
    var a: [Float], b: [Float], c: [Float]

    init(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
         padding: Int, random: inout TestRandom) {
        self.transA = transA
        self.transB = transB
        self.m = m
        self.n = n
        self.k = k
        self.alpha = alpha
        self.beta = beta
        let aRows = transA == .none ? m : k, aColumns = transA == .none ? k : m
        let bRows = transB == .none ? k : n, bColumns = transB == .none ? n : k
        lda = aColumns + padding
        ldb = bColumns + padding
        ldc = n + padding
        a = (0..<max(aRows * lda, 1)).map { _ in random.float() }
        b = (0..<max(bRows * ldb, 1)).map { _ in random.float() }
        c = (0..<max(m * ldc, 1)).map { _ in random.float() }
        _ = (aRows, bRows)
    }

    func opA(_ i: Int, _ p: Int) -> Double { Double(transA == .none ? a[i * lda + p] : a[p * lda + i]) }
    func opB(_ p: Int, _ j: Int) -> Double { Double(transB == .none ? b[p * ldb + j] : b[j * ldb + p]) }

    /// Runs the kernel and returns C.
    func computed(with gemm: GEMM) -> [Float] {
        var result = c
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { c in
                    gemm.multiply(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a.baseAddress!, lda: lda,
                                  b: b.baseAddress!, ldb: ldb, beta: beta, c: c.baseAddress!, ldc: ldc)
                }
            }
        }
        return result
    }

    /// Checks `result` against the triple loop in Double, element by element.
    ///
    /// Bound: |C - C_ref| <= 2 k eps (|alpha| sum_p |a_ip b_pj| + |beta c_ij|) + eps |C_ref|, the classic
    /// forward error bound of a length-k dot product in single precision (eps = 2^-24), with a factor 2 for
    /// the FMA order and the alpha/beta rounding. Padding outside the m x n block must be untouched.
    func mismatches(in result: [Float]) -> [String] {
        let eps = Double(Float.ulpOfOne) / 2
        var found: [String] = []
        for i in 0..<m {
            for j in 0..<ldc {
                let got = Double(result[i * ldc + j])
                guard j < n else {
                    if result[i * ldc + j] != c[i * ldc + j] { found.append("padding (\(i),\(j)) changed") }
                    continue
                }
                var exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    exact += opA(i, p) * opB(p, j)
                    magnitude += abs(opA(i, p) * opB(p, j))
                }
                let old = Double(c[i * ldc + j])
                let expected = Double(alpha) * exact + (beta == 0 ? 0 : Double(beta) * old)
                let bound = 2 * Double(max(k, 1)) * eps * (abs(Double(alpha)) * magnitude + abs(Double(beta) * old))
                    + eps * abs(expected) + 1e-30
                if abs(got - expected) > bound { found.append("C(\(i),\(j)) = \(got), expected \(expected)") }
            }
        }
        return found
    }

    /// Runs `gemm` on the problem and expects no mismatch, naming the problem and the first three if there are any.
    func expectCorrect(with gemm: GEMM, sourceLocation: SourceLocation = #_sourceLocation) {
        let errors = mismatches(in: computed(with: gemm))
        #expect(errors.isEmpty, "\(testDescription): \(errors.prefix(3))", sourceLocation: sourceLocation)
    }

    var testDescription: String {
        "\(transA)x\(transB) m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) lda=\(lda) ldb=\(ldb) ldc=\(ldc)"
    }
}

@Suite("GEMM against a triple loop in Double")
struct GEMMTests {
    static let transposes: [(Transpose, Transpose)] = [(.none, .none), (.none, .transposed),
                                                       (.transposed, .none), (.transposed, .transposed)]

    /// Every kernel set this CPU can run: each must pass every test.
    static let kernels = KernelSet.supported.map(\.name)

    @Test("edge shapes: 0, 1, odd, and one past every kernel's tile and block sizes",
          arguments: kernels, transposes.indices)
    func edgeShapes(kernel: KernelSet.Name, pair: Int) {
        let (transA, transB) = Self.transposes[pair]
        var random = TestRandom(state: UInt64(pair))
        let gemm = GEMM(kernels: .named(kernel))
        let sizes = [0, 1, 2, 5, 6, 7, 12, 13, 15, 16, 17, 31, 32, 33, 145, 257, 385, 481]
        for m in sizes {
            for n in sizes where (m * n) % 3 == 0 || m < 8 || n < 8 {
                let k = sizes[(m + n) % sizes.count]
                let problem = Problem(transA, transB, m: m, n: n, k: k, alpha: 1.5, beta: -0.5, padding: 3,
                                      random: &random)
                problem.expectCorrect(with: gemm)
            }
        }
    }

    @Test("random shapes from 0 to 300, every transpose, alpha and beta not 1 and 0, padded leading dimensions",
          arguments: kernels)
    func randomShapes(kernel: KernelSet.Name) {
        var random = TestRandom(state: 2024)
        let gemm = GEMM(kernels: .named(kernel))
        for trial in 0..<48 {
            let (transA, transB) = Self.transposes[trial % 4]
            let problem = Problem(
                transA, transB, m: random.int(0...300), n: random.int(0...300), k: random.int(0...300),
                alpha: [0.75, -1.25, 2][trial % 3], beta: [0.5, -2, 1.5, 0][trial % 4], padding: random.int(1...9),
                random: &random)
            problem.expectCorrect(with: gemm)
        }
    }

    @Test("past every set's packing-free limit: the packed path, more rows than a block, three panels deep",
          arguments: kernels)
    func packedPath(kernel: KernelSet.Name) {
        // With A as stored, AVX-512 multiplies without packing up to 2^18 elements of op(B): the shapes above all
        // stay under it, so this is where its packing of A and B is checked.
        var random = TestRandom(state: 481)
        let gemm = GEMM(kernels: .named(kernel))
        for transB in [Transpose.none, .transposed] {
            let problem = Problem(.none, transB, m: 493, n: 530, k: 517, alpha: -0.75, beta: 1.5, padding: 5,
                                  random: &random)
            problem.expectCorrect(with: gemm)
        }
    }

    @Test("the MLP step's small products (1 to 100 rows, widths 16 to 128, shallow ones too), on every kernel",
          arguments: kernels)
    func trainerShapes(kernel: KernelSet.Name) {
        var random = TestRandom(state: 64)
        let gemm = GEMM(kernels: .named(kernel))
        for rows in [1, 2, 3, 4, 5, 6, 7, 25, 100] {
            for width in [16, 48, 64, 80, 128] {
                // As the MLP multiplies: the input layer's 5 features and a hidden layer's 64, each with the bias's
                // row of ones (depths 6 and 65), the weight gradient of a hidden layer (65 rows), the deltas.
                for (transA, transB, m, n, k) in [(Transpose.none, Transpose.none, rows, width, 6),
                                                  (.none, .none, rows, width, 65),
                                                  (.transposed, .none, 65, width, rows),
                                                  (.none, .transposed, rows, width, 64)] {
                    for (alpha, beta): (Float, Float) in [(1, 0), (0.5, 1), (-1.5, 0.25)] {
                        let problem = Problem(transA, transB, m: m, n: n, k: k, alpha: alpha, beta: beta, padding: 2,
                                              random: &random)
                        problem.expectCorrect(with: gemm)
                    }
                }
            }
        }
    }

    @Test("beta = 0 never reads C, so NaN in C does not leak into the result", arguments: kernels)
    func betaZeroIgnoresC(kernel: KernelSet.Name) {
        var random = TestRandom(state: 7)
        let gemm = GEMM(kernels: .named(kernel))
        for (m, n, k) in [(20, 1, 9), (1, 20, 9), (20, 20, 9), (64, 64, 1)] {
            var problem = Problem(.none, .none, m: m, n: n, k: k, alpha: 1, beta: 0, padding: 0, random: &random)
            problem.c = Array(repeating: .nan, count: problem.c.count)
            let result = problem.computed(with: gemm)
            #expect(result.allSatisfy { $0.isFinite }, "\(problem.testDescription)")
        }
    }

    @Test("k = 0 and alpha = 0 scale C by beta")
    func emptyDepthScalesC() {
        var random = TestRandom(state: 9)
        let gemm = GEMM()
        for (k, alpha) in [(0, Float(1)), (7, Float(0))] {
            let problem = Problem(.none, .none, m: 4, n: 5, k: k, alpha: alpha, beta: 3, padding: 0, random: &random)
            let result = problem.computed(with: gemm)
            #expect(result == problem.c.map { 3 * $0 })
        }
    }

    @Test("reusing one GEMM across shapes of every size gives the same results as a fresh one", arguments: kernels)
    func reuseAcrossShapes(kernel: KernelSet.Name) {
        var random = TestRandom(state: 11)
        let reused = GEMM(kernels: .named(kernel))
        for (m, n, k) in [(300, 300, 300), (3, 4, 5), (64, 1, 300), (150, 290, 1)] {
            let problem = Problem(.transposed, .none, m: m, n: n, k: k, alpha: 1, beta: 0.25, padding: 1,
                                  random: &random)
            #expect(problem.computed(with: reused) == problem.computed(with: GEMM(kernels: .named(kernel))))
        }
    }

    @Test("AIRFOIL_DP_KERNEL forces a set this CPU runs; an unknown name or one the CPU lacks is refused")
    func kernelChoice() throws {
        #expect(try KernelSet.choose(environment: [:]).get().name == KernelSet.supported[0].name)
        #expect(try KernelSet.choose(environment: ["AIRFOIL_DP_KERNEL": "portable"]).get().name == .portable)
        #expect(throws: KernelSet.ChoiceError.self) { try KernelSet.choose(environment: ["AIRFOIL_DP_KERNEL": "sse9"]).get() }
        for name in KernelSet.Name.allCases where !Self.kernels.contains(name) {
            #expect(throws: KernelSet.ChoiceError.self) {
                try KernelSet.choose(environment: ["AIRFOIL_DP_KERNEL": name.rawValue]).get()
            }
        }
        #expect(Self.kernels.last == .portable)
    }
}
