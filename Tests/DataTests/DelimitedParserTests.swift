import Common
import TestSupport
import Testing
import Data

@Suite("Parsing delimited numeric tables")
struct DelimitedParserTests {
    private func parse(_ text: String) throws -> (DelimitedParser.Shape, [[Double]]) {
        var rows: [[Double]] = []
        let shape = try DelimitedParser.parse(Array(text.utf8), source: "t.dat") { _, values in rows.append(values) }
        return (shape, rows)
    }

    private func failure(_ text: String) -> JobFailure? {
        do {
            _ = try parse(text)
            return nil
        } catch let failure as JobFailure {
            return failure
        } catch {
            return nil
        }
    }

    @Test("the airfoil file: 1503 rows of 6 columns, CRLF line ends")
    func airfoilFile() throws {
        let bytes = SharedData.bytes
        #expect(bytes.contains(13), "the shared file is expected to use CRLF")
        var first: [Double] = []
        var last: [Double] = []
        let shape = try DelimitedParser.parse(bytes, source: SharedData.path) { index, values in
            if index == 0 { first = values }
            last = values
        }
        #expect(shape == DelimitedParser.Shape(rows: 1503, columns: 6))
        #expect(first == [800, 0, 0.3048, 71.3, 0.00266337, 126.201])
        #expect(last.count == 6)
    }

    @Test("LF and CRLF, tabs and commas, spaces around fields and blank lines all read the same")
    func lineEndsAndDelimiters() throws {
        let expected: [[Double]] = [[1, 2.5, -3], [4e2, 5, 6]]
        for text in ["1\t2.5\t-3\n4e2\t5\t6\n", "1\t2.5\t-3\r\n4e2\t5\t6\r\n", "1,2.5,-3\n400,5,6",
                     " 1 , 2.5 ,-3\r\n\r\n400, 5,6\n\n\n", "1\t2.5\t-3\n\n4e2\t5\t6\r\n  \n"] {
            let (shape, rows) = try parse(text)
            #expect(shape == DelimitedParser.Shape(rows: 2, columns: 3), "\(text.debugDescription)")
            #expect(rows == expected, "\(text.debugDescription)")
        }
    }

    @Test("a row with the wrong number of columns is named by its line")
    func wrongColumnCount() {
        let failure = failure("1\t2\t3\n\n4\t5\n")
        #expect(failure?.kind == .invalidData)
        #expect(failure?.message == "data file 't.dat' line 3: expected 3 columns, found 2")
    }

    @Test("non-numbers, a header row, NaN, infinities, overflow, NUL and invalid UTF-8 are refused by line and column",
          arguments: [
              ("1\t2\n3\tx\n", "line 2: column 2: 'x' is not a number"),
              ("freq\ttarget\n1\t2\n", "line 1: column 1: 'freq' is not a number"),
              ("1\t2\nnan\t3\n", "line 2: column 1: 'nan' is not finite"),
              ("1\t-inf\n", "line 1: column 2: '-inf' is not finite"),
              ("1\t1e999\n", "line 1: column 2: '1e999' is not finite"),
              ("1\t2\n0x10\t3\n", "line 2: column 1: '0x10' is not a decimal number"),
              ("1\t0x1p3\n", "line 1: column 2: '0x1p3' is not a decimal number"),
              ("1\t2\u{0}3\n", "line 1: column 2: '2\\x003' is not a number"),
              ("1\t\u{FF}\n", "line 1: column 2: '\\xC3\\xBF' is not a number"),
              ("1\t\t2\n", "line 1: column 2: '' is not a number"),
          ])
    func invalidFields(text: String, problem: String) {
        let failure = failure(text)
        #expect(failure?.kind == .invalidData)
        #expect(failure?.message == "data file 't.dat' \(problem)")
    }

    @Test("an empty file, or one of blank lines only, is refused")
    func emptyFile() {
        for text in ["", "\n\r\n  \n"] {
            #expect(failure(text)?.message == "data file 't.dat' is empty: it has no rows")
        }
    }

    @Test("a single column has no target and features: refused")
    func singleColumn() {
        #expect(failure("1\n2\n")?.kind == .invalidData)
    }

    @Test("a very long field is shown shortened, so the error stays one line")
    func longFieldShortened() {
        let message = failure("1\t" + String(repeating: "y", count: 5000) + "\n")?.message ?? ""
        #expect(message.count < 150)
        #expect(!message.contains("\n"))
    }
}
