import Foundation
import Kernels
import Testing

@Suite("Kernel sets and the CPU features they need")
struct KernelSetTests {
    /// The level and extra features Package.swift compiles `module` for, read from its `kernelSettings(level:...)`.
    private func compiledFor(module: String) throws -> [String] {
        let manifest = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Package.swift")
        let text = try String(contentsOf: manifest, encoding: .utf8)
        let start = try #require(text.range(of: "name: \"\(module)\""))
        let call = try #require(text[start.upperBound...].range(of: #"kernelSettings\([^)]*\)"#, options: .regularExpression))
        let arguments = String(text[call])
        func strings(after label: String) -> [String] {
            guard let range = arguments.range(of: #"\#(label): (\[[^\]]*\]|"[^"]*"|nil)"#, options: .regularExpression)
            else { return [] }
            let value = arguments[range].dropFirst(label.count + 2)
            return value.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        return strings(after: "level") + strings(after: "extra")
    }

    @Test("the start-up check asks the CPU for exactly what each module is compiled for (Package.swift)",
          arguments: [(KernelSet.Name.avx512, "KernelsAVX512"), (.avx2, "KernelsAVX2"), (.portable, "KernelsPortable")])
    func checkedFeaturesAreCompiledFeatures(name: KernelSet.Name, module: String) throws {
        let compiled = try compiledFor(module: module)
        #expect(KernelSet.compiledFeatures(of: name) == compiled)
        if name != .portable { #expect(compiled.first?.hasPrefix("x86-64-v") == true, "\(compiled)") }
    }

    @Test("on this CPU the supported sets agree with /proc/cpuinfo's flags for their levels")
    func supportedSetsMatchCPUFlags() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(line.split(separator: " ").map(String.init))
        // The flags Linux reports for x86-64-v3 and v4 (LZCNT is "abm", BMI1 "bmi1").
        let v3: Set = ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave", "popcnt", "sse4_2"]
        let v4 = v3.union(["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "3dnowprefetch"])
        let names = KernelSet.supported.map(\.name)
        #expect(names.contains(.avx512) == v4.isSubset(of: flags), "\(names) against \(v4.subtracting(flags))")
        #expect(names.contains(.avx2) == v3.isSubset(of: flags), "\(names) against \(v3.subtracting(flags))")
        #expect(names.last == .portable)
    }
}
