namespace Grid.Tasks.Randomness;

/// <summary>
/// SplitMix64 seeded from (task name, seed, index): the same triple gives the same numbers on every platform and
/// .NET version, which <see cref="Random"/> does not promise, and examples of a stream are independent of each
/// other, so example 1,000,000 costs no more than example 0.
/// </summary>
internal sealed class ExampleRandom
{
    private ulong _state;

    public ExampleRandom(string taskName, long seed, long index)
    {
        ulong nameHash = 14695981039346656037UL; // FNV-1a: string.GetHashCode is randomised per process.
        foreach (char c in taskName)
        {
            nameHash = (nameHash ^ c) * 1099511628211UL;
        }

        _state = Mix(Mix(Mix(nameHash) ^ (ulong)seed) ^ (ulong)index);
    }

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, maxExclusive); the modulo bias is below 2^-50 for the small ranges used here.</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExclusive, 1);
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    /// <summary>Uniform in [minInclusive, maxInclusive].</summary>
    public int NextInclusive(int minInclusive, int maxInclusive) => minInclusive + Next(maxInclusive - minInclusive + 1);

    public bool NextBool() => (NextUInt64() & 1) == 1;

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
