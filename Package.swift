// swift-tools-version: 6.0
import Foundation
import PackageDescription

/// Code generation per instruction set, for the kernel modules only: everything else is built for the baseline
/// target of the platform (x86-64 or aarch64), and `Kernels` chooses among the variants when the program starts
/// (`KernelSet`). A module is compiled for an x86-64 microarchitecture level (`x86-64-v4`: AVX-512 F/BW/CD/DQ/VL
/// and all of v3; `x86-64-v3`: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE) plus the `extra` features named, exactly
/// what the start-up check asks the CPU for (`CKernelSupport.h`, tied by a test), and scheduled for a CPU of that
/// class (`tune`). Bounds checks are off (`-Ounchecked`) in these measured hot loops only; docs/architecture.md, "Build settings".
func kernelSettings(level: String?, extra: [String] = [], tune: String?) -> [SwiftSetting] {
    var flags = ["-Ounchecked"]
    #if arch(x86_64)
    if let level { flags += ["-Xcc", "-march=\(level)"] }
    flags += extra.flatMap { ["-Xcc", "-m\($0)"] }
    if let tune { flags += ["-Xcc", "-mtune=\(tune)"] }
    #endif
    return [.unsafeFlags(flags, .when(configuration: .release))]
}

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
        .systemLibrary(name: "CXXHash", providers: [.apt(["libxxhash-dev"])]),
        .target(name: "CKernelSupport"),
        .target(name: "KernelCore", dependencies: ["CKernelSupport"]),
        .target(
            name: "KernelsAVX512", dependencies: ["KernelCore"],
            swiftSettings: kernelSettings(level: "x86-64-v4", extra: ["prfchw"], tune: "skylake-avx512")),
        .target(
            name: "KernelsAVX2", dependencies: ["KernelCore"],
            swiftSettings: kernelSettings(level: "x86-64-v3", tune: "haswell")),
        .target(name: "KernelsPortable", dependencies: ["KernelCore"], swiftSettings: kernelSettings(level: nil, tune: nil)),
        .target(
            name: "Kernels",
            dependencies: ["CKernelSupport", "KernelCore", "KernelsAVX512", "KernelsAVX2", "KernelsPortable"],
            swiftSettings: kernelSettings(level: nil, tune: nil)
        ),
        .target(name: "Common"),
        .target(name: "Checksums", dependencies: ["CCrypto", "CXXHash"]),
        .target(name: "MPI", dependencies: ["CMPI", "Common"]),
        .target(name: "Data", dependencies: ["Common", "MPI", "Checksums"]),
        .target(name: "Models", dependencies: ["Common", "Kernels"]),
        .target(name: "Optimization", dependencies: ["Common", "Kernels", "KernelCore"]),
        .target(name: "Formats", dependencies: ["Common", "Checksums", "Data", "Models", "Optimization"]),
        .target(name: "Runtime", dependencies: ["Common", "MPI", "Formats"]),
        .target(
            name: "Training",
            dependencies: ["Common", "Checksums", "Data", "Models", "Optimization", "Formats", "Runtime", "MPI", "Kernels"]
        ),
        .target(name: "Comparison", dependencies: ["Formats", "Common"]),
        .target(
            name: "Benchmarks",
            dependencies: ["Kernels", "MPI", "Common", "Data", "Models", "Formats", "Training"]
        ),
        .target(
            name: "Commands",
            dependencies: [
                "Training", "Formats", "Runtime", "MPI", "Kernels", "Benchmarks", "Comparison", "Common", "Data",
                "Models", "Optimization", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "airfoil-dp",
            dependencies: [
                "Commands", "Common", "Runtime", "MPI", "Kernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "CommonTests", dependencies: ["Common", "TestSupport"]),
        .testTarget(name: "ChecksumsTests", dependencies: ["Checksums", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "Common", "Checksums", "MPI", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Common", "Kernels", "TestSupport"]),
        .testTarget(name: "OptimizationTests", dependencies: ["Optimization", "Common", "Kernels", "TestSupport"]),
        .testTarget(
            name: "FormatsTests",
            dependencies: ["Formats", "Checksums", "Data", "Models", "Optimization", "Common", "TestSupport"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Common", "TestSupport"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: [
                "Training", "Formats", "Data", "Models", "Optimization", "Common", "Kernels", "MPI", "TestSupport",
            ]
        ),
        .testTarget(name: "ComparisonTests", dependencies: ["Comparison", "Formats", "TestSupport"]),
        .testTarget(name: "DocsTests", dependencies: ["Commands", "Common", "Formats", "Data"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["airfoil-dp", "Commands", "Common", "Formats", "Data", "Kernels", "Models", "MPI", "TestSupport"]),
    ]
)

/// libFuzzer targets (`Fuzz/<Name>`), declared only for `scripts/fuzz.sh`, which sets `AIRFOIL_DP_FUZZ=1` and builds
/// with `-sanitize=fuzzer,address`: each defines `LLVMFuzzerTestOneInput` and takes libFuzzer's `main`
/// (hence `-parse-as-library`), which a plain build does not link.
if ProcessInfo.processInfo.environment["AIRFOIL_DP_FUZZ"] == "1" {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("DataParser", ["Data", "Common"]),
        ("BinaryData", ["Data", "Common", "Checksums", "MPI"]),
        ("CheckpointPayload", ["Formats", "Data", "Common"]),
        ("RunLog", ["Comparison"]),
        ("ModelFile", ["Formats", "Models", "Common", "Training"]),
        ("ResumedLog", ["Formats", "Common"]),
        ("CommandLine", ["Commands", "Common"]),
        ("ParsedOptions", ["Formats", "Optimization", "Models", "Data", "Training", "Common"]),
        ("NetworkProfile", ["Formats", "Common"]),
    ]
    for target in fuzzTargets {
        package.targets.append(.executableTarget(
            name: "fuzz-\(target.name)", dependencies: target.dependencies, path: "Fuzz/\(target.name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    }
}
