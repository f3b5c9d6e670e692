using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Grid.Training.Settings;

namespace Grid.Training.Faults;

/// <summary>
/// Decides which prompt-group attempts fail on purpose (<see cref="FaultSettings"/>). The decision is a pure function
/// of the run seed, the group's key and the attempt number: the same attempt fails the same way on every silo and in
/// every rerun, a group reactivated elsewhere meets the faults it would have met, and a test can compute a run's exact
/// retry and failure counts before it starts.
/// </summary>
public sealed class FaultInjector
{
    private readonly FaultSettings _faults;
    private readonly long _seed;

    public FaultInjector(FaultSettings faults, long seed)
    {
        ArgumentNullException.ThrowIfNull(faults);
        _faults = faults;
        _seed = seed;
    }

    public bool Enabled => _faults.Enabled;

    /// <summary>The fault of attempt <paramref name="attempt"/> (1-based) of the group keyed <paramref name="groupKey"/>.</summary>
    public InjectedFault Decide(string groupKey, int attempt)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupKey);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        if (!Enabled)
        {
            return InjectedFault.None;
        }

        double generation = Uniform(groupKey, attempt, "generation");
        if (generation < _faults.GenerationThrowShare)
        {
            return InjectedFault.GenerationThrows;
        }

        if (generation < _faults.GenerationThrowShare + _faults.GenerationStallShare)
        {
            return InjectedFault.GenerationStalls;
        }

        return Uniform(groupKey, attempt, "verifier") < _faults.VerifierThrowShare
            ? InjectedFault.VerifierThrows
            : InjectedFault.None;
    }

    /// <summary>Throws when <paramref name="fault"/> is <see cref="InjectedFault.GenerationThrows"/>.</summary>
    public static void ThrowIfGenerationThrows(InjectedFault fault, string groupKey, int attempt)
    {
        if (fault == InjectedFault.GenerationThrows)
        {
            throw new InjectedFaultException(
                $"Injected generation fault (faults.generation_throw_share) in attempt {attempt} of group {groupKey}.");
        }
    }

    /// <summary>Throws when <paramref name="fault"/> is <see cref="InjectedFault.VerifierThrows"/>.</summary>
    public static void ThrowIfVerifierThrows(InjectedFault fault, string groupKey, int attempt)
    {
        if (fault == InjectedFault.VerifierThrows)
        {
            throw new InjectedFaultException(
                $"Injected verifier fault (faults.verifier_throw_share) in attempt {attempt} of group {groupKey}.");
        }
    }

    /// <summary>A uniform draw in [0, 1) from sha256(seed, key, attempt, purpose): stable across processes and machines.</summary>
    private double Uniform(string groupKey, int attempt, string purpose)
    {
        byte[] input = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{_seed}\n{groupKey}\n{attempt}\n{purpose}"));
        ulong bits = BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(input));
        return (bits >> 11) * (1.0 / (1UL << 53));
    }
}
