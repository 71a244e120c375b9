// swift-tools-version: 6.0
import Foundation
import PackageDescription

/// The CPU the kernels are compiled for. `haswell` means AVX2 + FMA, the fastest choice on the Zen 4 machines
/// this project is measured on (AVX-512 is double-pumped there). Override at build time, for example
/// `AIRFOIL_DP_TARGET_CPU=native swift build -c release` on an AVX-512 server, or `x86-64` for a portable binary.
let targetCPU = ProcessInfo.processInfo.environment["AIRFOIL_DP_TARGET_CPU"] ?? "haswell"

/// Code generation for the hot modules: vector instructions for `targetCPU` and no bounds checks.
let tunedSettings: [SwiftSetting] = {
    var flags = ["-Ounchecked"]
    #if arch(x86_64)
    flags += ["-target-cpu", targetCPU]
    #endif
    return [.unsafeFlags(flags, .when(configuration: .release))]
}()

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
        .target(name: "Kernels", dependencies: ["CKernelSupport"], swiftSettings: tunedSettings),
        .target(
            name: "Common",
            dependencies: ["MPI", "CCrypto"],
            swiftSettings: tunedSettings
        ),
        .target(name: "Data", dependencies: ["Common", "MPI"], swiftSettings: tunedSettings),
        .target(name: "Models", dependencies: ["Common", "Kernels"], swiftSettings: tunedSettings),
        .target(name: "Optimization", dependencies: ["Common", "CKernelSupport"], swiftSettings: tunedSettings),
        .target(
            name: "Training",
            dependencies: ["Common", "Data", "Models", "Optimization", "MPI"],
            swiftSettings: tunedSettings
        ),
        .target(name: "Comparison", dependencies: ["Training"]),
        .target(
            name: "Benchmarks",
            dependencies: ["Kernels", "MPI", "Common", "Data", "Models", "Training"],
            swiftSettings: tunedSettings
        ),
        .executableTarget(
            name: "airfoil-dp",
            dependencies: [
                "Training", "MPI", "Kernels", "Benchmarks", "Comparison", "Common", "Data", "Models", "Optimization",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.define("TARGET_CPU_\(targetCPU.uppercased().replacingOccurrences(of: "-", with: "_"))")]
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
