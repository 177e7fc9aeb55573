extension Array {
    /// The first index whose element satisfies `isAbove`, which must be false and then true along the array
    /// (a binary search of a sorted array).
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
