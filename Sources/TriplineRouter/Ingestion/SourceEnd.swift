/// How reading a file ended: what its checkpoint may claim.
public enum SourceEnd: Sendable, Equatable {
    /// Read to the end of its content: the checkpoint covers the bytes read.
    case endOfInput
    /// An error that ends the file (a malformed log, corrupt gzip) stopped reading before the end; it
    /// was reported, and the file as it is now holds nothing more to read.
    case stopped
    /// The file ends inside an item (reported as ``InputError/incomplete(origin:reason:)``, not
    /// counted): the checkpoint is not complete, so the item is read again once the file grew.
    case incomplete
}
