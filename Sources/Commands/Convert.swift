import ArgumentParser
import Common
import Data

/// `airfoil-dp convert`: a data set as a binary data file, for data read many times.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert data (a text table, synthetic:... or a binary file) into a binary data file.",
        discussion: """
            The binary file holds every row with the column statistics a run computes, and a checksum per block of \
            about 1 MiB. 'train --data FILE' and 'predict --data FILE' recognise it by its first bytes; each rank \
            reads and verifies only the blocks holding its rows. float64 (the default) stores the values as \
            parsed; --float32 stores the standardised Floats the trainer computes from them, half the size. Both \
            train to the bits of the text they came from; predict needs float64. Prints the rows, columns, element \
            and bytes written. Runs in one process, holding the table in memory. Exit codes: \
            \(JobFailure.exitCodeHelp([.usage, .invalidData, .missingData, .output])).
            """)

    @Argument(help: "The data to convert: a file, or synthetic:...")
    var data: String

    @Option(help: "The binary data file to write (replaced atomically; never the input).")
    var out: String

    @Flag(help: "Store standardised float32 values (half the size; train only) instead of float64.")
    var float32 = false

    func run() throws {
        var inputs: [(flag: String, path: String)] = []
        if try SyntheticData.parse(data) == nil { inputs.append(("DATA", data)) }
        try OutputPaths.check(inputs: inputs, outputs: [("--out", out, .replaced)])
        AtomicFile.removeStaleTemporaries(of: out)
        let (file, header) = try BinaryDataConversion.convert(path: data, to: float32 ? .float32Standardised : .float64)
        try AtomicFile.write(file, to: out, what: "the binary data file")
        Console.out("rows: \(header.rows)")
        Console.out("columns: \(header.columns)")
        Console.out("format: \(header.element.formatName)")
        Console.out("bytes: \(file.count)")
    }
}
