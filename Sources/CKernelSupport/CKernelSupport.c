// SwiftPM needs one source file in a C target; the support is header-only.
