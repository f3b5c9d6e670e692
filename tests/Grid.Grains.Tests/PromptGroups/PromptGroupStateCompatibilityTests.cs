using Grid.Contracts.Rollouts;
using Grid.Grains.PromptGroups;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Grid.Grains.Tests.PromptGroups;

/// <summary>
/// Group states stored before the state machine (a phase with a "reported" flag beside it) load into the right stage,
/// and a stored state reads back as the stage it was written from.
/// </summary>
public sealed class PromptGroupStateCompatibilityTests
{
    private static readonly Serializer Serializer =
        new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    [Theory]
    [InlineData(false, GroupPhase.Pending, false, GroupStage.Unassigned)]
    [InlineData(true, GroupPhase.Pending, false, GroupStage.Pending)]
    [InlineData(true, GroupPhase.Generating, false, GroupStage.Lost)] // an earlier activation's attempt
    [InlineData(true, GroupPhase.Scored, false, GroupStage.Scored)]
    [InlineData(true, GroupPhase.Delivered, true, GroupStage.Delivered)]
    [InlineData(true, GroupPhase.Failed, false, GroupStage.Failed)]
    [InlineData(true, GroupPhase.Failed, true, GroupStage.FailureReported)]
    public void A_record_of_the_earlier_shape_loads_into_its_stage(bool assigned, GroupPhase phase, bool reported, GroupStage stage)
    {
        var old = new PromptGroupStateBeforeMachine
        {
            Assignment = assigned ? PromptGroupMachineTests.Assignment : null,
            Phase = phase,
            Attempts = 3,
            Scored = phase is GroupPhase.Scored or GroupPhase.Delivered ? PromptGroupMachineTests.Scored : null,
            LastError = "boom",
            Retries = 2,
            Reported = reported,
            LostAttempts = 1,
        };

        var stored = Serializer.Deserialize<PromptGroupState>(Serializer.SerializeToArray(old))!;
        var loaded = GroupMachineState.Load(stored);

        Assert.Equal(stage, loaded.Stage);
        Assert.Equal((3, 2, 1, "boom", 2), (loaded.Attempts, loaded.Retries, loaded.LostAttempts, loaded.LastError, loaded.Draw));
        Assert.Equivalent(old.Scored, loaded.Scored, strict: true);
        AssertSameAssignment(old.Assignment, loaded.Assignment);
        Assert.Equal(assigned ? phase : GroupPhase.Pending, loaded.Phase);
    }

    [Theory]
    [InlineData(GroupStage.Pending)]
    [InlineData(GroupStage.Generating)]
    [InlineData(GroupStage.Scored)]
    [InlineData(GroupStage.Delivered)]
    [InlineData(GroupStage.Failed)]
    [InlineData(GroupStage.FailureReported)]
    public void A_stored_state_reads_back_as_the_earlier_shape_and_as_its_stage(GroupStage stage)
    {
        var state = new GroupMachineState(stage, PromptGroupMachineTests.Assignment, 2, 1, 0, "boom",
            stage is GroupStage.Scored or GroupStage.Delivered ? PromptGroupMachineTests.Scored : null);
        var stored = new PromptGroupState();
        state.Store(stored);

        var bytes = Serializer.SerializeToArray(stored);
        var old = Serializer.Deserialize<PromptGroupStateBeforeMachine>(bytes)!;
        Assert.Equal(state.Phase, old.Phase);
        Assert.Equal(state.Finished, old.Reported);

        // A running attempt comes back as lost: the activation that ran it is gone.
        var expected = stage == GroupStage.Generating ? state with { Stage = GroupStage.Lost } : state;
        var loaded = GroupMachineState.Load(Serializer.Deserialize<PromptGroupState>(bytes)!);
        Assert.Equal(expected, loaded with { Scored = expected.Scored, Assignment = expected.Assignment });
        Assert.Equivalent(expected.Scored, loaded.Scored, strict: true);
        AssertSameAssignment(expected.Assignment, loaded.Assignment);
    }

    /// <summary>The settings come back as an equal record, not the same instance: compared by their JSON.</summary>
    private static void AssertSameAssignment(PromptGroupAssignment? expected, PromptGroupAssignment? actual)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is not null && actual is not null)
        {
            Assert.Equal(expected with { Settings = null! }, actual with { Settings = null! });
            Assert.Equal(RunSettingsLoader.ToJson(expected.Settings), RunSettingsLoader.ToJson(actual.Settings));
        }
    }
}

/// <summary>The stored prompt group state as it was written before the machine: same field ids.</summary>
[GenerateSerializer]
public sealed class PromptGroupStateBeforeMachine
{
    [Id(0)] public PromptGroupAssignment? Assignment { get; set; }

    [Id(1)] public GroupPhase Phase { get; set; }

    [Id(2)] public int Attempts { get; set; }

    [Id(3)] public ScoredGroupRecord? Scored { get; set; }

    [Id(4)] public string? LastError { get; set; }

    [Id(5)] public int Retries { get; set; }

    [Id(6)] public bool Reported { get; set; }

    [Id(7)] public int LostAttempts { get; set; }
}
