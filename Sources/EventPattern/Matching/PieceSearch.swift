/// Finding a wildcard's piece inside a value, in time linear in the value whatever its bytes.
///
/// A plain scan (compare at each position) is fastest for the short pieces of real wildcards, but
/// costs the piece's length at every position of a repetitive value (`aaa…ab` in `aaaa…`): a
/// 1,000-byte piece through a 200 KB value is 200 million comparisons. So the scan counts its
/// comparisons and, past a few times the distance covered, finishes with Knuth-Morris-Pratt.
enum PieceSearch {
    /// The first position `p >= from` with `value[p..<p + piece.count] == piece` and
    /// `p + piece.count <= end`, or -1.
    static func firstOccurrence(of piece: UnsafeBufferPointer<UInt8>, in value: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int {
        let length = piece.count
        if length == 0 { return from <= end ? from : -1 }
        let first = piece[0]
        var i = from
        var compared = 0
        let budget = 4 &* max(0, end &- from) &+ 64
        while i &+ length <= end {
            if value[i] == first {
                var k = 1
                while k < length && value[i &+ k] == piece[k] { k &+= 1 }
                if k == length { return i }
                compared &+= k
                if compared > budget { return knuthMorrisPratt(piece, in: value, from: i, end: end) }
            }
            i &+= 1
        }
        return -1
    }

    /// ``firstOccurrence(of:in:from:end:)`` by Knuth-Morris-Pratt: each value byte is looked at a
    /// bounded number of times.
    static func knuthMorrisPratt(_ piece: UnsafeBufferPointer<UInt8>, in value: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int {
        let length = piece.count
        if length == 0 { return from <= end ? from : -1 }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: length) { border -> Int in
            // border[k]: the length of the longest proper border of piece[0...k].
            border[0] = 0
            var b = 0
            for k in 1..<length {
                while b > 0 && piece[k] != piece[b] { b = border[b &- 1] }
                if piece[k] == piece[b] { b &+= 1 }
                border[k] = b
            }
            var matched = 0
            var i = from
            while i < end {
                while matched > 0 && value[i] != piece[matched] { matched = border[matched &- 1] }
                if value[i] == piece[matched] { matched &+= 1 }
                if matched == length { return i &+ 1 &- length }
                i &+= 1
            }
            return -1
        }
    }
}
