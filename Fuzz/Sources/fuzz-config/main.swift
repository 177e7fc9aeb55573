import FuzzDriver
import HealthdCore

/// A configuration file's text through `ConfigParser` (what `check-config`, `run` and a reload do first): a
/// configuration, or every issue with its position.
@_cdecl("LLVMFuzzerTestOneInput")
func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        _ = try ConfigParser.parseWithPositions(String(decoding: bytes(data, size), as: UTF8.self), path: "fuzz.yaml")
    } catch {
        _ = error.description
    }
    return 0
}

fuzz(test)
