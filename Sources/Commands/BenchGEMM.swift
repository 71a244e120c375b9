import ArgumentParser
import Benchmarks
import Common
import Data
import Formats
import Foundation
import Kernels
import Models
import Optimization
import Training

/// `airfoil-dp bench gemm`: the chapter's four ways at 256 x 256, a size sweep, and this core's peak.
struct BenchGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "The chapter's four ways to multiply 256 x 256 matrices, a size sweep, the MLP's small shapes and the peak.",
        discussion: """
            Every figure is the median of several runs after a warm-up, single-threaded. GFLOP/s are real \
            (2 n^3 / t). The naive triple loop is timed once and only up to n = 512.
            """)

    @OptionGroup var options: BenchOptions

    func run() throws {
        let methodSize = options.quick ? 64 : 256
        let sizes = options.quick ? [64, 128, 256] : [64, 128, 256, 512, 1024, 2048]
        let peak = PeakThroughput.measure(iterations: options.quick ? 2_000_000 : 20_000_000)

        let methodBench = GEMMBenchmark(n: methodSize)
        let methods = GEMMBenchmark.Method.allCases.map { method -> (String, Double) in
            let repetitions = method == .element ? 3 : (options.quick ? 3 : 15)
            let seconds = Timing.medianSeconds(repetitions: repetitions) { methodBench.run(method) }
            return (method.rawValue, seconds)
        }

        var sweep: [(n: Int, seconds: Double, naive: Double?)] = []
        for n in sizes {
            let bench = GEMMBenchmark(n: n)
            let repetitions = max(3, min(50, Int(2e9 / bench.flops)))
            let seconds = Timing.medianSeconds(repetitions: options.quick ? 2 : repetitions) { bench.run(.whole) }
            let naive = n <= 512 ? Timing.seconds { bench.runNaive() } : nil
            blackHole(bench.checksum)
            sweep.append((n, seconds, naive))
        }

        let gemm = GEMM()
        let small = SmallShapeBenchmark.shapes.map { shape in
            (shape, SmallShapeBenchmark.seconds(shape, gemm: gemm, quick: options.quick))
        }

        let flops = methodBench.flops
        let gemmKernel = KernelSet.active.name.rawValue
        if options.json {
            var object: [String: Any] = [
                "kernel": gemmKernel,
                "peak_gflops": peak.gflops,
                "peak_method": peak.method,
                "methods": methods.map { ["name": $0.0, "n": methodSize, "seconds": $0.1, "gflops": flops / $0.1 / 1e9] },
                "sizes": sweep.map { entry -> [String: Any] in
                    let f = 2 * pow(Double(entry.n), 3)
                    var row: [String: Any] = ["n": entry.n, "seconds": entry.seconds, "gflops": f / entry.seconds / 1e9]
                    if let naive = entry.naive { row["naive_gflops"] = f / naive / 1e9 }
                    return row
                },
            ]
            object["small_shapes"] = small.map { shape, seconds -> [String: Any] in
                ["role": shape.role, "m": shape.m, "n": shape.n, "k": shape.k,
                 "trans_a": shape.transA == .transposed, "trans_b": shape.transB == .transposed,
                 "seconds": seconds, "gflops": shape.flops / seconds / 1e9]
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            Console.out(String(decoding: data, as: UTF8.self))
            return
        }
        Console.out("kernel: \(gemmKernel)")
        Console.out(String(format: "peak: %.1f GFLOP/s", peak.gflops) + " (\(peak.method))")
        Console.out("")
        Console.out("The chapter's four ways, \(methodSize) x \(methodSize):")
        Console.out("  method      seconds      GFLOP/s  % of peak")
        for (name, seconds) in methods {
            let gflops = flops / seconds / 1e9
            Console.out("  " + name.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: " %10.6f %12.2f %9.1f", seconds, gflops, 100 * gflops / peak.gflops))
        }
        Console.out("")
        Console.out("Blocked GEMM by size (naive triple loop up to 512):")
        Console.out("      n      seconds   GFLOP/s  % of peak   naive GFLOP/s")
        for entry in sweep {
            let f = 2 * pow(Double(entry.n), 3)
            let gflops = f / entry.seconds / 1e9
            let naive = entry.naive.map { String(format: "%14.2f", f / $0 / 1e9) } ?? String(repeating: " ", count: 14)
            Console.out(String(format: "  %5d %12.6f %9.2f %10.1f", entry.n, entry.seconds, gflops, 100 * gflops / peak.gflops)
                + "  " + naive)
        }
        Console.out("")
        Console.out("The MLP step's small shapes (n = k = 64 unless m, n or k says otherwise):")
        Console.out("  role       m    n    k  op(A)  op(B)       ns   GFLOP/s")
        for (shape, seconds) in small {
            let operands = (shape.transA == .none ? "A" : "A^T").padding(toLength: 7, withPad: " ", startingAt: 0)
                + (shape.transB == .none ? "B" : "B^T").padding(toLength: 5, withPad: " ", startingAt: 0)
            Console.out("  " + shape.role.padding(toLength: 8, withPad: " ", startingAt: 0)
                + String(format: "%4d %4d %4d  ", shape.m, shape.n, shape.k) + operands
                + String(format: "%9.0f %9.2f", seconds * 1e9, shape.flops / seconds / 1e9))
        }
    }
}
