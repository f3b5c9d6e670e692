using Grid.Contracts.Learning;
using Grid.Contracts.Runs;
using Grid.Grains.Controller;
using Grid.Grains.Mapping;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Grid.Grains.Tests.Settings;

/// <summary>
/// Run settings cross grain calls as the RunSettings record (as JSON, through the converter Orleans finds in Grid.Contracts,
/// with nothing to register), are never copied inside a silo, and a controller state stored before, with the settings as a JSON string, still
/// loads and gives back the same settings.
/// </summary>
public sealed class RunSettingsTransportTests
{
    private static readonly RunSettings s_settings = RunSettingsLoader.Load("smoke",
        overrides: ["kl.kind=adaptive", "loss_type=dr_grpo", "advantage_scale=batch", "temperature=0.7000000000000001",
            "sft.tasks=[\"geometry\"]", "sft.task_weights.geometry=3", "faults.verifier_throw_share=0.1"]);

    private readonly IServiceProvider _services = new ServiceCollection()
        .AddSerializer(s => s.AddAssembly(typeof(ControllerState).Assembly).AddAssembly(typeof(RunSpec).Assembly)
            .AddAssembly(typeof(RunSettingsTransportTests).Assembly))
        .BuildServiceProvider();

    [Fact]
    public void A_run_spec_round_trips_its_settings_exactly()
    {
        var serializer = _services.GetRequiredService<Serializer>();

        var read = serializer.Deserialize<RunSpec>(serializer.SerializeToArray(new RunSpec(s_settings, AllowCpuLearner: true)));

        Assert.NotSame(s_settings, read.Settings);
        Assert.Equal(RunSettingsLoader.ToJson(s_settings), RunSettingsLoader.ToJson(read.Settings));
        Assert.Equal(BitConverter.DoubleToInt64Bits(s_settings.Temperature), BitConverter.DoubleToInt64Bits(read.Settings.Temperature));
        Assert.True(read.AllowCpuLearner);
        Assert.Null(read.SettingsJson);
    }

    [Fact]
    public void Settings_are_immutable_so_a_call_inside_a_silo_hands_over_the_same_instance()
    {
        var copier = _services.GetRequiredService<DeepCopier>();
        var setup = new LearnerSetup("run", s_settings);

        Assert.Same(s_settings, copier.Copy(s_settings));
        Assert.Same(s_settings, copier.Copy(setup).Settings);
    }

    [Fact]
    public void A_controller_state_stored_with_the_settings_as_json_loads_and_upgrades_to_the_same_settings()
    {
        var serializer = _services.GetRequiredService<Serializer>();
        string json = RunSettingsLoader.ToJson(s_settings);
        byte[] stored = serializer.SerializeToArray(new StoredControllerStateV1
        {
            Spec = new StoredRunSpecV1(json, AllowCpuLearner: true),
            StepsCompleted = 2,
        });

        var state = serializer.Deserialize<ControllerState>(stored);
        var spec = RunSettingsJson.Upgrade(state.Spec!);

        Assert.Equal(2, state.StepsCompleted);
        Assert.Equal(json, state.Spec!.SettingsJson);
        Assert.True(spec.AllowCpuLearner);
        Assert.Equal(json, RunSettingsLoader.ToJson(spec.Settings));
        Assert.Same(spec, RunSettingsJson.Upgrade(spec));
    }
}

/// <summary>The shape ControllerState was stored in before the settings travelled as a record (the fields read here).</summary>
[GenerateSerializer]
public sealed class StoredControllerStateV1
{
    [Id(0)] public StoredRunSpecV1? Spec { get; set; }

    [Id(2)] public long StepsCompleted { get; set; }
}

/// <summary>RunSpec as it was: the settings as their JSON (field 0) and the CPU-learner flag (field 1).</summary>
[GenerateSerializer]
public sealed record StoredRunSpecV1([property: Id(0)] string SettingsJson, [property: Id(1)] bool AllowCpuLearner);
