import Common
import Testing

@Suite("A failure's message is one line")
struct JobFailureTests {
    @Test("line breaks and control characters a user gave are written as escapes; tabs and other text stay")
    func controlCharactersEscaped() {
        #expect(JobFailure(.usage, "--hp a\nb is not a hyperparameter").message == #"--hp a\nb is not a hyperparameter"#)
        #expect(JobFailure(.invalidData, "file 'x\r\u{1B}[2J\u{0}é'").message == #"file 'x\r\u{1B}[2J\u{0}é'"#)
        #expect(JobFailure(.output, "a\tb, ünïcode, 'quoted'").message == "a\tb, ünïcode, 'quoted'")
    }
}
