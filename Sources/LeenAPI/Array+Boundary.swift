extension Array {
    /// The first index whose element satisfies `isAbove`, which must be false and then true along the array
    /// (a binary search of a sorted array). Inlinable: called from other modules unspecialised, it copied
    /// every element it compared through the type's value witnesses (a profile at 100k connections).
    @inlinable
    package func boundary(_ isAbove: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if isAbove(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
