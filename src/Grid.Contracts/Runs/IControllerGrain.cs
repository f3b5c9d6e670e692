using Orleans.Concurrency;

namespace Grid.Contracts.Runs;

/// <summary>
/// One GRPO-D run (key: the run id): the step loop, the policy version, the KL coefficient beta for the whole
/// cluster and the step history. Calls return quickly; the steps run in the background.
/// </summary>
public interface IControllerGrain : IGrainWithStringKey
{
    /// <summary>Starts the run; starting a run that already exists returns its status and changes nothing.</summary>
    Task<RunStatus> Start(RunSpec spec);

    [AlwaysInterleave]
    Task<RunStatus> GetStatus();

    /// <summary>The reports of steps <paramref name="fromStep"/> onwards, in step order.</summary>
    [AlwaysInterleave]
    Task<StepReport[]> GetStepReports(long fromStep);

    /// <summary>
    /// Continues an interrupted run from its persisted state: sets the learner up again from the recorded version's
    /// checkpoint (weights and optimizer state; when that checkpoint is damaged, from the previous good one, and the run
    /// rolls back to it, saying so in LastError) and re-drives the current step, whose prompt groups deliver their
    /// persisted results again. A run that is not running is left as it is.
    /// </summary>
    Task<RunStatus> Resume();

    /// <summary>The learner finished a step. A report for a step already recorded is ignored.</summary>
    Task ReportStep(StepReport report);
}
