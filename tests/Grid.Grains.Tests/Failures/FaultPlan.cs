using Grid.Contracts.Rollouts;
using Grid.Training.Faults;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Failures;

/// <summary>
/// What fault injection will do to every group of a run, computed before the run from the same pure function the
/// prompt groups use (<see cref="FaultInjector"/>): the tests compare the grid's counts against it exactly.
/// </summary>
public sealed class FaultPlan
{
    private FaultPlan(string runId, RunSettings settings, IReadOnlyList<PlannedGroup> groups)
    {
        RunId = runId;
        Settings = settings;
        Groups = groups;
    }

    public string RunId { get; }

    public RunSettings Settings { get; }

    public IReadOnlyList<PlannedGroup> Groups { get; }

    /// <summary>Failed attempts followed by another attempt.</summary>
    public int Retries => Groups.Sum(g => g.Attempts.Count - 1);

    public int FailedGroups => Groups.Count(g => g.Failed);

    public IEnumerable<PlannedGroup> Step(long step) => Groups.Where(g => g.Step == step);

    /// <summary>Steps none of whose groups succeed.</summary>
    public IEnumerable<long> AllFailedSteps => Groups.GroupBy(g => g.Step).Where(s => s.All(g => g.Failed)).Select(s => s.Key);

    public static FaultPlan For(RunSettings settings, string runId)
    {
        var injector = new FaultInjector(settings.Faults, settings.Seed);
        var groups = new List<PlannedGroup>();
        for (long step = 0; step < settings.Steps; step++)
        {
            for (int prompt = 0; prompt < settings.PromptsPerStep; prompt++)
            {
                string key = PromptGroupKey.Create(runId, step, prompt);
                var attempts = new List<InjectedFault>();
                do
                {
                    attempts.Add(injector.Decide(key, attempts.Count + 1));
                }
                while (attempts[^1] != InjectedFault.None && attempts.Count < settings.Rollouts.MaxAttempts);

                groups.Add(new PlannedGroup(step, prompt, attempts));
            }
        }

        return new FaultPlan(runId, settings, groups);
    }

    /// <summary>
    /// The first run id <c>{prefix}-0</c>, <c>{prefix}-1</c>, ... whose plan has what the test needs: which attempts
    /// fail depends on the group keys, which hold the run id.
    /// </summary>
    public static FaultPlan Find(RunSettings settings, string prefix, Func<FaultPlan, bool> wanted)
    {
        for (int i = 0; i < 100_000; i++)
        {
            var plan = For(settings, $"{prefix}-{i}");
            if (wanted(plan))
            {
                return plan;
            }
        }

        throw new InvalidOperationException($"No run id {prefix}-N (N < 100000) gives the wanted faults; loosen the test's wish.");
    }

    public override string ToString() => string.Join("; ", Groups.Select(g => g.ToString()));
}

/// <summary>One group's attempts as injection decides them; the last is <see cref="InjectedFault.None"/> unless it fails.</summary>
public sealed record PlannedGroup(long Step, int Prompt, IReadOnlyList<InjectedFault> Attempts)
{
    public bool Failed => Attempts[^1] != InjectedFault.None;

    /// <summary>Succeeded after at least one failed attempt.</summary>
    public bool Retried => !Failed && Attempts.Count > 1;

    public override string ToString() => $"{Step}/{Prompt}: {string.Join(",", Attempts)}";
}
