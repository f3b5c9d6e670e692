namespace Grid.Training.Rollouts;

/// <summary>
/// The seed of one sampled completion, from (run seed, step, prompt index, completion index, attempt). The same
/// tuple always samples the same completion, wherever and in whatever batch it runs; a retry (next attempt)
/// samples afresh.
/// </summary>
public static class SamplingSeed
{
    public static ulong For(long runSeed, long step, int promptIndex, int completionIndex, int attempt = 0)
    {
        ulong h = Mix((ulong)runSeed);
        h = Mix(h ^ (ulong)step);
        h = Mix(h ^ (ulong)promptIndex);
        h = Mix(h ^ (ulong)completionIndex);
        return Mix(h ^ (ulong)attempt);
    }

    // SplitMix64 finaliser: cheap, and every input bit changes about half the output bits.
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
