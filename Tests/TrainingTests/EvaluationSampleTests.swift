import Testing
import Training

@Suite("The evaluation sample (--eval-rows)")
struct EvaluationSampleTests {
    @Test("a sample is distinct increasing rows in range, fixed by the seed, and spread over the rows")
    func sampleRows() {
        let rows = EvaluationSample.rows(count: 1000, of: 1_000_000, seed: 7)
        #expect(rows.count == 1000 && Set(rows).count == 1000 && rows == rows.sorted())
        #expect(rows.first! >= 0 && rows.last! < 1_000_000)
        #expect(EvaluationSample.rows(count: 1000, of: 1_000_000, seed: 7) == rows)
        #expect(EvaluationSample.rows(count: 1000, of: 1_000_000, seed: 8) != rows)
        // Each tenth of the rows holds about a tenth of the sample (binomial: 100 +- 9.5; 45 is 5.8 sigma).
        for tenth in 0..<10 {
            let inside = rows.filter { $0 / 100_000 == tenth }.count
            #expect(abs(inside - 100) <= 45, "tenth \(tenth): \(inside)")
        }
        #expect(EvaluationSample.rows(count: 50, of: 50, seed: 1) == Array(0..<50))
    }

    @Test("the default walks every row up to 65,536 and a sample beyond; a request of every row or more is no sample")
    func defaultSize() {
        #expect(EvaluationSample.size(requested: nil, trainingRows: 1500) == nil)
        #expect(EvaluationSample.size(requested: nil, trainingRows: 65_536) == nil)
        #expect(EvaluationSample.size(requested: nil, trainingRows: 65_537) == 65_536)
        #expect(EvaluationSample.size(requested: 100, trainingRows: 1500) == 100)
        #expect(EvaluationSample.size(requested: 1500, trainingRows: 1500) == nil)
        #expect(EvaluationSample.size(requested: 9000, trainingRows: 1500) == nil)
    }
}
