using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Hosting.Weights;

namespace Grid.Grains.Controller;

/// <summary>
/// A run's persisted state: its spec, progress and the KL controller's state. Its size does not depend on the run's
/// length: the step history lives in pages of its own (<see cref="IRunHistoryGrain"/>).
/// </summary>
[GenerateSerializer]
[Alias("grid.ControllerState")]
public sealed class ControllerState
{
    [Id(0)] public RunSpec? Spec { get; set; }

    [Id(1)] public RunState State { get; set; }

    [Id(2)] public long StepsCompleted { get; set; }

    [Id(3)] public long PolicyVersion { get; set; }

    [Id(4)] public WeightReference? Weights { get; set; }

    [Id(5)] public string? PolicyConfigJson { get; set; }

    /// <summary>KL controller state (KlControllerState's fields): kind, current beta, last observed step.</summary>
    [Id(6)] public string? KlKind { get; set; }

    [Id(7)] public double KlBeta { get; set; }

    [Id(8)] public long KlLastObservedStep { get; set; } = -1;

    /// <summary>Written by versions that kept every step's beta here; moved out (and emptied) on activation.</summary>
    [Id(9)] public List<double>? LegacyBetas { get; set; }

    /// <summary>Written by versions that kept the step history here; moved to the history pages on activation.</summary>
    [Id(10)] public List<StepReport>? LegacySteps { get; set; }

    [Id(11)] public string? LastError { get; set; }

    /// <summary>The step whose prompt groups were started last (-1: none yet).</summary>
    [Id(12)] public long StartedStep { get; set; } = -1;

    /// <summary>Version 0, the reference policy: what a resumed learner needs beside the newest weights.</summary>
    [Id(13)] public WeightReference? InitialWeights { get; set; }

    /// <summary>The step <see cref="StepBeta"/> belongs to (-1: none started): a re-driven step keeps its beta.</summary>
    [Id(14)] public long BetaStep { get; set; } = -1;

    [Id(15)] public double StepBeta { get; set; }

    /// <summary>Prompt groups of steps up to this one have had their state deleted (resume needs only the current step's).</summary>
    [Id(16)] public long ForgottenThrough { get; set; } = -1;

    /// <summary>
    /// With rollouts.max_staleness k &gt; 0: the prompt groups of steps up to this one have been started, ahead of their
    /// steps' plans (-1: none ahead yet). Never more than k steps past the step being learned.
    /// </summary>
    [Id(17)] public long StartedAheadThrough { get; set; } = -1;
}
