/// A location inside a JSON document, printed the way users write it: `detail.eventName[2]`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    public static let root = JSONPath()

    public func appending(_ key: String) -> JSONPath { appending(component: .key(key)) }
    public func appending(index: Int) -> JSONPath { appending(component: .index(index)) }

    private func appending(component: Component) -> JSONPath {
        var path = JSONPath()
        path.components.reserveCapacity(components.count + 1)
        path.components.append(contentsOf: components)
        path.components.append(component)
        return path
    }

    public var isRoot: Bool { components.isEmpty }

    /// Keys that are plain identifiers print bare; others print quoted in brackets (`["a.b"]`).
    public var description: String {
        if components.isEmpty { return "(top level)" }
        var out = ""
        for component in components {
            switch component {
            case .index(let i):
                out += "[\(i)]"
            case .key(let key):
                if JSONPath.isPlain(key) {
                    if !out.isEmpty { out += "." }
                    out += key
                } else {
                    out += "[" + JSONWriter.quoted(key) + "]"
                }
            }
        }
        return out
    }

    static func isPlain(_ key: String) -> Bool {
        guard !key.isEmpty else { return false }
        for c in key.utf8 {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "$"), UInt8(ascii: "@"):
                continue
            default:
                return false
            }
        }
        return true
    }
}
