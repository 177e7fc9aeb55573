import Foundation
import HealthdCore
import LeenAPI
import Synchronization

/// The state directory's shared change log (`changes.log`): every record appended to an organization's log
/// (``ChangeRecord``) is appended here too, and this file alone is `fdatasync`ed before a commit's events go
/// out. Commits made close together then share one `fdatasync` (``GroupCommit``), where each organization's
/// own log took one each: an `fdatasync` costs about 150 µs of the daemon's CPU on this 2-core VM's ext4,
/// whatever it flushes (docs/benchmarks.md, the eighteenth round), and a changing fleet of 100k connections
/// made about 50 a second.
///
/// The organizations' logs stay what a start reads first; they are written without `fdatasync` and made
/// durable together at a checkpoint (when this file outgrows ``StateStore/changeLogBudget``, and at a clean
/// stop), after which this file is emptied. After a power loss, their lost tails are in this file.
///
/// A line is `<token> <record> <record's JSON>`: the token of the organization's file the record follows
/// (``OrganizationLog/token``, 64 random bits, which names the file and so the organization) and its number,
/// before the JSON so that a start can skip a record its organization's log already gave without decoding it.
///
/// Owned by the store and touched only on the blocking-I/O thread (and at load); the lock is never contended.
struct ChangeLog {
    /// Open for appending once the first record is appended; -1 before.
    var descriptor: Int32 = -1
    /// Bytes in the file (what a failed append truncates back to).
    var bytes = 0
    /// Appended since the last `fdatasync`.
    var unsynced = false
    /// Organizations' logs appended to without `fdatasync` since the last checkpoint, which syncs them
    /// before emptying this file. At a start: every log there was (the last process's appends).
    var unsyncedLogs: Set<String> = []
    /// Organizations whose state, at the start, took records that only this file had (their log lost them
    /// to a power loss): until each has been written again (its file replaced), this file may not be emptied.
    var awaitingReplacement: Set<OrganizationID> = []
    /// A failed append whose bytes could not be truncated away: nothing more is appended until a checkpoint
    /// has emptied the file.
    var broken = false

    /// A line's token, its record number, and the offset of its JSON; nil for a malformed line.
    static func header(of line: UnsafeRawBufferPointer) -> (token: String, record: Int, json: Int)? {
        guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")), firstSpace > 0 else { return nil }
        let afterToken = firstSpace + 1
        guard let secondSpace = line[afterToken...].firstIndex(of: UInt8(ascii: " ")), secondSpace > afterToken,
            secondSpace - afterToken <= 18
        else { return nil }
        var record = 0
        for byte in line[afterToken..<secondSpace] {
            guard (0x30...0x39).contains(byte) else { return nil }
            record = record * 10 + Int(byte - 0x30)
        }
        let token = String(decoding: UnsafeRawBufferPointer(rebasing: line[..<firstSpace]), as: UTF8.self)
        return (token, record, secondSpace + 1)
    }

    /// A record's line: its header, then its JSON line (which ends with the newline).
    static func line(token: String, record: Int, json: Data) -> Data {
        var line = Data("\(token) \(record) ".utf8)
        line.append(json)
        return line
    }
}

extension StateStore {
    /// Appends `line` to the change log, `fdatasync`ing it when `sync`; `log` is the organization's log the
    /// same record went to, left for the next checkpoint to sync. A failed append is truncated away, or
    /// else marks the file broken (nothing appended until a checkpoint empties it).
    func appendChange(_ line: Data, log: String, sync: Bool) throws {
        try written.changes.withLock { changes throws(StateError) in
            let path = changeLogFile
            if changes.broken { try checkpoint(&changes) }
            if changes.descriptor < 0 {
                let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else { throw StateError(path: path, reason: String(cString: strerror(errno))) }
                let end = lseek(descriptor, 0, SEEK_END)
                guard end >= 0 else {
                    let reason = String(cString: strerror(errno))
                    close(descriptor)
                    throw StateError(path: path, reason: reason)
                }
                changes.descriptor = descriptor
                changes.bytes = Int(end)
                // Its name must survive a crash before the first sync that counts on it.
                fsync(descriptor)
                AtomicFile.syncDirectory(of: path)
            }
            if let failure = AtomicFile.writeAll(line, to: changes.descriptor) {
                if ftruncate(changes.descriptor, off_t(changes.bytes)) != 0 { changes.broken = true }
                throw StateError(path: path, reason: failure)
            }
            changes.bytes += line.count
            changes.unsynced = true
            changes.unsyncedLogs.insert(log)
            // A checkpoint makes every record durable in its organization's log: a sync too.
            if changes.bytes > changeLogBudget, changes.awaitingReplacement.isEmpty {
                try checkpoint(&changes)
            } else if sync {
                try syncLog(&changes)
            }
        }
    }

    /// Makes every record appended so far durable: the commit point of the events waiting for it
    /// (``GroupCommit``).
    public func syncChanges() throws {
        try written.changes.withLock { changes throws(StateError) in
            try syncLog(&changes)
        }
    }

    private func syncLog(_ changes: inout ChangeLog) throws(StateError) {
        guard changes.unsynced, changes.descriptor >= 0 else { return }
        guard fdatasync(changes.descriptor) == 0 else {
            throw StateError(path: changeLogFile, reason: String(cString: strerror(errno)))
        }
        written.syncs.add(1, ordering: .relaxed)
        changes.unsynced = false
    }

    /// Syncs the organizations' logs appended to since the last checkpoint, then empties the change log:
    /// every record it held is then durable in its organization's log, or follows a file since replaced.
    /// At a clean stop (after every file was replaced), so that the next start reads none of it.
    public func checkpointChanges() throws {
        try written.changes.withLock { changes throws(StateError) in
            if changes.awaitingReplacement.isEmpty { try checkpoint(&changes) }
        }
    }

    private func checkpoint(_ changes: inout ChangeLog) throws(StateError) {
        guard changes.awaitingReplacement.isEmpty else {
            throw StateError(
                path: changeLogFile,
                reason: "holds records \(changes.awaitingReplacement.count) organization(s) still need until their files are written again")
        }
        for log in changes.unsyncedLogs {
            let descriptor = open(log, O_WRONLY | O_CLOEXEC)
            // A log removed since was replaced by its file, which was synced.
            guard descriptor >= 0 else {
                if errno == ENOENT { continue }
                throw StateError(path: log, reason: String(cString: strerror(errno)))
            }
            let synced = fdatasync(descriptor) == 0
            let reason = String(cString: strerror(errno))
            close(descriptor)
            guard synced else { throw StateError(path: log, reason: reason) }
        }
        changes.unsyncedLogs = []
        let path = changeLogFile
        if changes.descriptor < 0 {
            guard FileManager.default.fileExists(atPath: path) else { return }
            changes.descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC, 0o600)
            guard changes.descriptor >= 0 else { throw StateError(path: path, reason: String(cString: strerror(errno))) }
        }
        guard ftruncate(changes.descriptor, 0) == 0, fsync(changes.descriptor) == 0 else {
            throw StateError(path: path, reason: String(cString: strerror(errno)))
        }
        changes.bytes = 0
        changes.unsynced = false
        changes.broken = false
    }

    /// Notes that an organization's file was replaced: its records in the change log are stale from now on.
    func replaced(_ organization: OrganizationID, log: String) {
        written.changes.withLock {
            $0.unsyncedLogs.remove(log)
            $0.awaitingReplacement.remove(organization)
        }
    }

    /// Applies the change log's records to the organizations just read (`files`, with how many records of
    /// their own log each took), in order: a record its organization's log gave already is skipped, one
    /// that follows is applied (its organization then waits for its file to be replaced before the log
    /// may be emptied, ``ChangeLog/awaitingReplacement``), and lines of files since replaced skipped. Bytes
    /// after the last newline (an append a crash cut short) are ignored; an unreadable record of an
    /// organization, or one that skips ahead, makes that organization unusable (`failed`, with why).
    static func applyChanges(
        _ data: Data, to files: inout [String: (index: Int, file: OrganizationFile, applied: Int)], path: String
    ) -> (taken: Set<OrganizationID>, failed: [String: String]) {
        var taken: Set<OrganizationID> = []
        var failed: [String: String] = [:]
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var number = 0
        for (start, newline) in lineBounds(data) {
            number += 1
            guard let header = data[start..<newline].withUnsafeBytes({ ChangeLog.header(of: $0) }) else { continue }
            let (key, record) = (header.token, header.record)
            guard failed[key] == nil, var entry = files[key], record > entry.applied else { continue }
            let bytes = data[(start + header.json)..<newline]
            guard record == entry.applied + 1,
                let change = StateFileReader.read(bytes, { reader throws(StateFileReader.Mismatch) in try reader.changeRecord() })
                    ?? (try? decoder.decode(ChangeRecord.self, from: bytes)),
                change.log == key, change.record == record
            else {
                failed[key] = "line \(number) of \(path) cannot follow record \(entry.applied) of its log"
                continue
            }
            // Taken out of the entry, so that the record changes them in place.
            files[key] = nil
            var state = entry.file.state
            var delivery = entry.file.delivery ?? Delivery()
            entry.file.state = OrganizationState()
            change.apply(to: &state, delivery: &delivery)
            entry.file.state = state
            entry.file.delivery = delivery
            entry.applied = record
            files[key] = entry
            taken.insert(entry.file.organizationID)
        }
        return (taken, failed)
    }
}
