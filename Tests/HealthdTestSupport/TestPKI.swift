import Foundation

/// Certificates made at test time with the `openssl` command: two server CAs (for a certificate change), a
/// client CA and a client certificate it signed, and a client certificate signed by nobody trusted.
package struct TestPKI {
    package let directory: URL

    package static func make() throws -> TestPKI {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pki = TestPKI(directory: directory)
        try pki.write("server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        try pki.write("client.ext", "extendedKeyUsage=clientAuth\n")
        for ca in ["ca1", "ca2", "client-ca", "rogue-ca"] {
            try pki.openssl(
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=leen test \(ca)", "-keyout", pki.path("\(ca).key"), "-out", pki.path("\(ca).crt"))
        }
        for (leaf, ca, ext) in [
            ("server1", "ca1", "server.ext"), ("server2", "ca2", "server.ext"), ("client", "client-ca", "client.ext"),
            ("rogue-client", "rogue-ca", "client.ext"),
        ] {
            try pki.openssl(
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(leaf)",
                "-keyout", pki.path("\(leaf).key"), "-out", pki.path("\(leaf).csr"))
            try pki.openssl(
                "x509", "-req", "-in", pki.path("\(leaf).csr"), "-CA", pki.path("\(ca).crt"), "-CAkey",
                pki.path("\(ca).key"), "-CAcreateserial", "-days", "2", "-extfile", pki.path(ext), "-out",
                pki.path("\(leaf).crt"))
        }
        return pki
    }

    /// ``make()`` on a thread of its own: the openssl runs block, and async tests must not block the two
    /// threads of the cooperative pool the other suites (and their servers) run on.
    package static func makeOffPool() async throws -> TestPKI {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try make() }) }
        }
    }

    package func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Replaces the file at once (rename), as deployment tools do.
    package func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name), options: .atomic)
    }

    package func copy(_ source: String, to name: String) throws {
        try write(name, String(contentsOfFile: path(source), encoding: .utf8))
    }

    package func remove() { try? FileManager.default.removeItem(at: directory) }

    private func openssl(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PKIError(message: "openssl \(arguments.joined(separator: " ")): " + String(decoding: message, as: UTF8.self))
        }
    }

    package struct PKIError: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    package static var opensslAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }
}
