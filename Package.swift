// swift-tools-version: 6.0
import Foundation
import PackageDescription

/// The CPU the kernels are compiled for. `haswell` means AVX2 + FMA, the fastest choice on the Zen 4 machines
/// this project is measured on (AVX-512 is double-pumped there). Override at build time, for example
/// `AIRFOIL_DP_TARGET_CPU=native swift build -c release` on an AVX-512 server, or `x86-64` for a portable binary.
let targetCPU = ProcessInfo.processInfo.environment["AIRFOIL_DP_TARGET_CPU"] ?? "haswell"

/// Code generation for every module: vector instructions for `targetCPU`. Bounds checks and preconditions stay on.
let vectorSettings: [SwiftSetting] = {
    #if arch(x86_64)
    return [.unsafeFlags(["-target-cpu", targetCPU], .when(configuration: .release))]
    #else
    return []
    #endif
}()

/// The measured hot kernels only (GEMM micro-kernel, packing, matrix-vector): no bounds checks. Their loops index
/// unsafe buffers whose extents the GEMM's entry checks once per call; the README's "Checks" section gives the
/// measurement that keeps this (and why no other module has it).
let kernelSettings: [SwiftSetting] = vectorSettings + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "airfoil-dp",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "airfoil-dp", targets: ["airfoil-dp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin", "pkgconf"])]
        ),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "MPI", dependencies: ["CMPI"]),
        .target(name: "CKernelSupport"),
        .target(name: "Kernels", dependencies: ["CKernelSupport"], swiftSettings: kernelSettings),
        .target(
            name: "Common",
            dependencies: ["MPI", "CCrypto"],
            swiftSettings: vectorSettings
        ),
        .target(name: "Data", dependencies: ["Common", "MPI"], swiftSettings: vectorSettings),
        .target(name: "Models", dependencies: ["Common", "Kernels"], swiftSettings: vectorSettings),
        .target(name: "Optimization", dependencies: ["Common", "CKernelSupport"], swiftSettings: vectorSettings),
        .target(
            name: "Training",
            dependencies: ["Common", "Data", "Models", "Optimization", "MPI"],
            swiftSettings: vectorSettings
        ),
        .target(name: "Comparison", dependencies: ["Training"]),
        .target(
            name: "Benchmarks",
            dependencies: ["Kernels", "MPI", "Common", "Data", "Models", "Training"],
            swiftSettings: vectorSettings
        ),
        .target(
            name: "Commands",
            dependencies: [
                "Training", "MPI", "Kernels", "Benchmarks", "Comparison", "Common", "Data", "Models", "Optimization",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.define("TARGET_CPU_\(targetCPU.uppercased().replacingOccurrences(of: "-", with: "_"))")]
        ),
        .executableTarget(
            name: "airfoil-dp",
            dependencies: ["Commands", "Common", "MPI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "Common", "MPI", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Common", "Kernels", "TestSupport"]),
        .testTarget(name: "OptimizationTests", dependencies: ["Optimization", "Common", "TestSupport"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["Training", "Data", "Models", "Optimization", "Common", "Kernels", "MPI", "TestSupport"]
        ),
        .testTarget(name: "ComparisonTests", dependencies: ["Comparison", "Training", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["airfoil-dp", "TestSupport"]),
    ]
)

/// libFuzzer targets (`Fuzz/<Name>`), declared only for `scripts/fuzz.sh`, which sets `AIRFOIL_DP_FUZZ=1` and builds
/// with `-sanitize=fuzzer,address`: each defines `LLVMFuzzerTestOneInput` and takes libFuzzer's `main`
/// (hence `-parse-as-library`), which a plain build does not link.
if ProcessInfo.processInfo.environment["AIRFOIL_DP_FUZZ"] == "1" {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("DataParser", ["Data", "Common"]),
        ("CheckpointPayload", ["Training", "Data", "Models", "Common"]),
        ("RunLog", ["Comparison"]),
        ("ModelFile", ["Models", "Common"]),
        ("CommandLine", ["Commands", "Common"]),
    ]
    for target in fuzzTargets {
        package.targets.append(.executableTarget(
            name: "fuzz-\(target.name)", dependencies: target.dependencies, path: "Fuzz/\(target.name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    }
}
