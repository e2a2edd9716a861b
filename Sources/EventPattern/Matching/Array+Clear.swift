extension Array {
    /// Empties a scratch buffer, keeping its storage; free when it is already empty (the common
    /// case for per-value buffers), where `removeAll(keepingCapacity:)` still makes a call.
    @inline(__always)
    mutating func clear() {
        if !isEmpty { removeAll(keepingCapacity: true) }
    }
}
