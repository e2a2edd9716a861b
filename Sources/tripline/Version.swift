/// The version `tripline --version` prints.
///
/// Set here, by hand, when a release is cut (there is no build-time injection: SwiftPM has no
/// portable way to pass one in). Development builds between releases carry the next version with
/// a `-dev` suffix.
enum TriplineVersion {
    static let string = "0.1.0-dev"
}
