using System.Globalization;
using Grid.Contracts.Runs;
using Grid.Hosting.Storage;
using Grid.Learning.KlControl;
using Orleans.Placement;
using Orleans.Runtime;

namespace Grid.Grains.Controller;

/// <summary>
/// One page of a run's step history (key: <see cref="RunHistoryPage.Key"/>): the records of
/// <see cref="RunHistoryPage.Size"/> consecutive steps. The controller keeps only the run's current position in its own
/// state and appends each finished step here, so every write the run makes stays the same size however long the run
/// is, and no grain's state passes the storage's size limit (an Azure Table entity holds about 1 MB).
/// </summary>
public interface IRunHistoryGrain : IGrainWithStringKey
{
    /// <summary>Adds a step's record; a step already recorded is replaced (a re-run after a rollback).</summary>
    Task Append(StepRecord record);

    /// <summary>The records of steps <paramref name="fromStep"/> onwards on this page, in step order.</summary>
    Task<StepRecord[]> Read(long fromStep);

    /// <summary>Forgets the records of steps <paramref name="fromStep"/> onwards (the run rolled back before them).</summary>
    Task Truncate(long fromStep);
}

/// <summary>
/// A finished step as the run's history keeps it: the learner's report, and the KL controller's state after it
/// observed the step (what a rollback to this step restores).
/// </summary>
[GenerateSerializer]
[Alias("grid.StepRecord")]
[Immutable]
public sealed record StepRecord(
    [property: Id(0)] StepReport Report,
    [property: Id(1)] string KlKind,
    [property: Id(2)] double KlBeta,
    [property: Id(3)] long KlLastObservedStep)
{
    public static StepRecord Of(StepReport report, KlControllerState kl) =>
        new(report, kl.Kind, kl.CurrentBeta, kl.LastObservedStep);

    /// <summary>The KL controller's state after this step.</summary>
    public KlControllerState Kl => new(KlKind, KlBeta, KlLastObservedStep);
}

/// <summary>Which page holds a step, and its grain key.</summary>
public static class RunHistoryPage
{
    /// <summary>Steps per page: a page of full reports stays far below any storage limit (an Azure Table entity's 1 MB).</summary>
    public const int Size = 64;

    public static long Of(long step) => step / Size;

    public static string Key(string runId, long page) => string.Create(CultureInfo.InvariantCulture, $"{runId}/history/{page}");
}

/// <summary>The records of one history page, in step order.</summary>
[GenerateSerializer]
[Alias("grid.RunHistoryState")]
public sealed class RunHistoryState
{
    [Id(0)] public List<StepRecord> Records { get; set; } = [];
}

/// <summary>Placed beside its caller, the controller: history writes then cross no network.</summary>
[PreferLocalPlacement]
public sealed class RunHistoryGrain(
    [PersistentState("history", GridStorage.Grain)] IPersistentState<RunHistoryState> state) : Grain, IRunHistoryGrain
{
    public async Task Append(StepRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var records = state.State.Records;
        records.RemoveAll(r => r.Report.Step >= record.Report.Step);
        records.Add(record);
        await state.WriteStateAsync();
    }

    public Task<StepRecord[]> Read(long fromStep) =>
        Task.FromResult(state.State.Records.Where(r => r.Report.Step >= fromStep).ToArray());

    public async Task Truncate(long fromStep)
    {
        if (state.State.Records.RemoveAll(r => r.Report.Step >= fromStep) > 0)
        {
            await state.WriteStateAsync();
        }
    }
}
