using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>
/// Fault injection (the run spec's <c>faults</c> section), a product feature for testing and failure drills; all
/// shares are 0, off, by default. Shares are of group attempts: each attempt's generation throws, or stalls past
/// the attempt timeout, or (when it generated) its verifier call throws. Which attempts fail is decided from the run
/// seed, the group's key and the attempt number (Grid.Training's FaultInjector), so a run's
/// retry and failure counts can be computed in advance.
/// </summary>
public sealed record FaultSettings
{
    /// <summary>Share of generation attempts that throw.</summary>
    public double GenerationThrowShare { get; init; }

    /// <summary>Share of generation attempts that never return (they fail by the attempt timeout).</summary>
    public double GenerationStallShare { get; init; }

    /// <summary>Share of verifier calls (one per generated attempt) that throw.</summary>
    public double VerifierThrowShare { get; init; }

    /// <summary>Any fault is injected; not a setting of its own (set a share instead).</summary>
    [JsonIgnore]
    public bool Enabled => GenerationThrowShare > 0 || GenerationStallShare > 0 || VerifierThrowShare > 0;
}
