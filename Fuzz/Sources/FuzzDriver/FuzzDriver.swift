import CFuzzerDriver
import Foundation

/// Runs libFuzzer on `test` with the process's arguments (libFuzzer's flags and corpus directories).
///
/// Why a driver call rather than libFuzzer's own `main`: SwiftPM links an executable with its module's entry
/// point as `main` (`--defsym main=<module>_main`), so each target's `main.swift` runs first and hands over.
/// Each target also exports its `test` as `LLVMFuzzerTestOneInput`, which libFuzzer's archive refers to.
public func fuzz(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, test))
}

/// The input as bytes (libFuzzer may pass a null pointer for the empty input).
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: size == 0 ? nil : data, count: size)
}
