namespace Grid.Training.Experiments;

/// <summary>
/// The time a study still needs: each remaining run is expected to take as long as the finished runs of its kind (base,
/// sft, rl) took on average per step; before one has finished, a prior per step (the constants below, from measured
/// demo-model steps on 2 cores) plus a fixed overhead for starting up and evaluating.
/// </summary>
public sealed class ExperimentEta
{
    public const double PriorSecondsPerRlStep = 2.0;

    public const double PriorSecondsPerSftStep = 0.35;

    public const double PriorOverheadSeconds = 15;

    private readonly Dictionary<string, (double Seconds, double Steps, int Runs)> _finished = [];

    /// <summary>Counts a finished run: how long it took.</summary>
    public void Record(ArmRun run, double seconds)
    {
        ArgumentNullException.ThrowIfNull(run);
        string kind = Kind(run);
        var (total, steps, runs) = _finished.GetValueOrDefault(kind);
        _finished[kind] = (total + seconds, steps + Steps(run), runs + 1);
    }

    /// <summary>The expected time of <paramref name="remaining"/> runs, done one after another.</summary>
    public TimeSpan Remaining(IEnumerable<ArmRun> remaining)
    {
        ArgumentNullException.ThrowIfNull(remaining);
        return TimeSpan.FromSeconds(remaining.Sum(Expected));
    }

    private double Expected(ArmRun run)
    {
        string kind = Kind(run);
        if (_finished.TryGetValue(kind, out var done))
        {
            return done.Steps > 0 ? done.Seconds / done.Steps * Steps(run) : done.Seconds / done.Runs;
        }

        double perStep = kind == "rl" ? PriorSecondsPerRlStep : PriorSecondsPerSftStep;
        return PriorOverheadSeconds + (perStep * Steps(run));
    }

    private static string Kind(ArmRun run) => run.Arm.IsRl ? "rl" : run.Arm == ExperimentArm.Sft ? "sft" : "base";

    /// <summary>The optimizer steps a run makes: GRPO steps, SFT steps, or the warm start's (none for a given base, which
    /// the base run only evaluates).</summary>
    private static double Steps(ArmRun run) => run.Arm.IsRl ? run.Settings.Steps
        : run.Arm == ExperimentArm.Sft || run.Settings.InitCheckpoint is null ? run.Settings.Sft.Steps : 0;
}
