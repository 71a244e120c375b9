import Common
import Optimization
import Testing

@Suite("The batch schedules' decisions and AdaScale's gain, against values worked by hand")
struct BatchScheduleTests {
    /// Estimates whose smoothed tr(Sigma) and |G|^2 are exactly `traceSigma` and `squaredNorm`.
    static func noise(traceSigma: Double, squaredNorm: Double) -> GradientNoiseScale {
        var noise = GradientNoiseScale()
        noise.add(traceSigma: traceSigma, squaredNorm: squaredNorm, decay: 0.5)
        return noise
    }

    @Test("--batch-schedule's values: fixed, noise with its defaults, warmup:B0:B1:STEPS; others refused")
    func parsing() throws {
        #expect(try BatchSchedule.parse("fixed") == nil)
        let noise = try #require(try BatchSchedule.parse("noise"))
        #expect(noise.kind == .noise && noise.every == 10 && noise.multiple == 1 && noise.factor == 2)
        #expect(noise.minimum == nil && noise.maximum == nil)
        let ramp = try #require(try BatchSchedule.parse("warmup:4:64:100"))
        #expect(ramp.kind == .warmup && ramp.start == 4 && ramp.end == 64 && ramp.rampSteps == 100)
        for bad in ["adaptive", "warmup:4:64", "warmup:a:64:100", "warmup:4:64:100:1", "Noise", ""] {
            #expect(throws: JobFailure.self, "\(bad)") { try BatchSchedule.parse(bad) }
        }
        var broken = BatchSchedule.noise
        broken.every = 0
        broken.factor = 1
        broken.multiple = 0
        broken.minimum = 64
        broken.maximum = 32
        #expect(broken.problems.count == 4, "\(broken.problems)")
        #expect(BatchSchedule.noise.problems.isEmpty)
        #expect(BatchSchedule(kind: .warmup, start: 0, end: 8, rampSteps: 0).problems.count == 2)
    }

    @Test("noise: toward multiple x B_simple, by at most the factor, in multiples of the granularity, within bounds")
    func noiseDecisions() {
        let schedule = BatchSchedule.noise
        func next(_ traceSigma: Double, _ squaredNorm: Double, current: Int = 32, granularity: Int = 4,
                  schedule: BatchSchedule = schedule) -> Int {
            schedule.batch(after: 10, current: current, noise: Self.noise(traceSigma: traceSigma, squaredNorm: squaredNorm),
                           granularity: granularity, rows: 1000)
        }
        #expect(schedule.batch(after: 10, current: 32, noise: GradientNoiseScale(), granularity: 4, rows: 1000) == 32)
        #expect(schedule.batch(after: 10, current: 32, noise: nil, granularity: 4, rows: 1000) == 32)
        #expect(next(49, 1) == 48)  // 12.25 fours
        #expect(next(50, 1) == 52)  // 12.5 fours, rounded away from zero
        #expect(next(100, 1) == 64)  // capped at twice 32
        #expect(next(5, 1) == 16)  // at least half of 32
        #expect(next(100, -1) == 64)  // the noise hides |G|^2: toward the maximum
        #expect(next(37, 1, granularity: 1) == 37)
        #expect(next(30, 1, current: 30, granularity: 3) == 30)
        var doubled = schedule
        doubled.multiple = 2
        #expect(next(20, 1, schedule: doubled) == 40)
        var bounded = schedule
        bounded.minimum = 40
        bounded.maximum = 50
        #expect(next(1000, 1, current: 44, schedule: bounded) == 48)  // 50 rounded down to a multiple of 4
        #expect(next(1, 1, current: 44, schedule: bounded) == 40)
        var gentle = schedule
        gentle.factor = 1.05
        // 32 x 1.05 = 33.6 and 32 / 1.05 = 30.5: 32 is the only multiple of 4 there.
        #expect(next(1000, 1, schedule: gentle) == 32)
        #expect(next(1000, 1, current: 30, granularity: 7, schedule: gentle) == 30)  // no multiple of 7: stays
    }

    @Test("warmup: a straight line from B0 to B1, rounded to the granularity, flat after its steps")
    func warmupRamp() {
        let ramp = BatchSchedule(kind: .warmup, start: 4, end: 64, rampSteps: 100)
        #expect(ramp.batch(after: 50, current: 4, noise: nil, granularity: 1, rows: 1000) == 34)
        #expect(ramp.batch(after: 50, current: 4, noise: nil, granularity: 3, rows: 1000) == 33)
        #expect(ramp.batch(after: 0, current: 4, noise: nil, granularity: 3, rows: 1000) == 3)
        #expect(ramp.batch(after: 200, current: 4, noise: nil, granularity: 3, rows: 1000) == 63)
        #expect(ramp.largestBatch(from: 4, granularity: 3, rows: 1000) == 63)
    }

    @Test("a batch refitted to a granularity: nearest multiple, at least one (noise: two) and at most the rows")
    func fitted() {
        let noise = BatchSchedule.noise
        let ramp = BatchSchedule(kind: .warmup, start: 2, end: 1503, rampSteps: 10)
        #expect(noise.fitted(50, granularity: 4, rows: 1000) == 52)
        #expect(noise.fitted(1, granularity: 4, rows: 1000) == 8)
        #expect(ramp.fitted(1, granularity: 4, rows: 1000) == 4)
        #expect(noise.fitted(999, granularity: 4, rows: 998) == 996)
        #expect(noise.fitted(37, granularity: 1, rows: 1000) == 37)
        #expect(noise.fitted(5, granularity: 4, rows: 5) == 4)
        // A ramp to 2^63 - 1 (a fuzzed input that trapped the memory estimate, which sizes buffers before the rows
        // are compared with the ramp's end) is clamped to the rows as a Double, never converted past Int's range.
        let huge = BatchSchedule(kind: .warmup, start: 4, end: Int.max, rampSteps: 10)
        #expect(huge.largestBatch(from: 4, granularity: 1, rows: 1500) == 1500)
        #expect(noise.fitted(Double(Int.max), granularity: 3, rows: 1500) == 1500)
        #expect(noise.fitted(.nan, granularity: 3, rows: 1500) == 6)
        // The ramp's end rounded up would pass the rows: 1503 / 2 is 751.5.
        #expect(ramp.batch(after: 10, current: 2, noise: nil, granularity: 2, rows: 1503) == 1502)
    }

    @Test("AdaScale's gain: (|G|^2 + tr/B0) / (|G|^2 + tr/B), between 1 and B/B0; 1 before any estimate")
    func adaScaleGain() {
        let noise = Self.noise(traceSigma: 100, squaredNorm: 1)
        #expect(abs(noise.gain(batch: 64, baseBatch: 16) - 7.25 / 2.5625) < 1e-12)
        #expect(abs(noise.gain(batch: 8, baseBatch: 16) - 7.25 / 13.5) < 1e-12)
        #expect(noise.gain(batch: 16, baseBatch: 16) == 1)
        #expect(Self.noise(traceSigma: 100, squaredNorm: -1).gain(batch: 64, baseBatch: 16) == 4)
        #expect(Self.noise(traceSigma: 0, squaredNorm: 0).gain(batch: 64, baseBatch: 16) == 1)
        #expect(GradientNoiseScale().gain(batch: 64, baseBatch: 16) == 1)
    }
}
