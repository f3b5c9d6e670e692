using Grid.Core.Settings;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

public sealed class RunSettingsLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("grid-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Without_file_or_overrides_the_demo_preset_is_returned()
    {
        var settings = RunSettingsLoader.Load();

        Assert.Equal(RunSettingsLoader.ToJson(RunSettingsLoader.Presets["demo"]), RunSettingsLoader.ToJson(settings));
        Assert.Equal("geometry", settings.Task);
        Assert.Equal(KlKind.Dynamic, settings.Kl.Kind);
    }

    [Fact]
    public void A_file_sets_only_the_keys_it_names_and_overrides_win_over_the_file()
    {
        string path = Write("""{ "steps": 7, "kl": { "beta_max": 0.2 }, "sft": { "steps": 11 } }""");

        var settings = RunSettingsLoader.Load("demo", path, ["kl.beta_max=0.3", "task=geometry"]);

        Assert.Equal(7, settings.Steps);
        Assert.Equal(0.3, settings.Kl.BetaMax);
        Assert.Equal(0.0, settings.Kl.BetaMin);
        Assert.Equal(11, settings.Sft.Steps);
        Assert.Equal("geometry", settings.Task);
    }

    [Fact]
    public void Command_line_flags_override_the_file_and_set_overrides_win_over_the_flags()
    {
        string path = Write("""{ "steps": 7, "seed": 3, "task": "counting" }""");
        var flags = new RunSettingFlags(Steps: 10, Task: "geometry", Seed: 5, OutputDirectory: "flag-runs");

        var flagged = RunSettingsLoader.Load("demo", path, flags: flags);
        var overridden = RunSettingsLoader.Load("demo", path,
            ["steps=20", "task=counting", "seed=9", "output_directory=set-runs"], flags);

        Assert.Equal((10, "geometry", 5L, "flag-runs"), (flagged.Steps, flagged.Task, flagged.Seed, flagged.OutputDirectory));
        Assert.Equal((20, "counting", 9L, "set-runs"),
            (overridden.Steps, overridden.Task, overridden.Seed, overridden.OutputDirectory));
    }

    [Fact]
    public void Environment_variables_are_a_layer_between_the_file_and_the_flags()
    {
        string path = Write("""{ "steps": 7, "kl": { "beta_max": 0.2 }, "sft": { "tasks": ["counting"] } }""");
        var environment = new Dictionary<string, string?>
        {
            ["GRID_RUN__KL__BETA_MAX"] = "0.05",
            ["grid_run__steps"] = "9",
            ["GRID_RUN__SFT__TASKS"] = "[\"geometry\", \"counting\"]",
            ["GRID_RUN__SFT__TASK_WEIGHTS__GEOMETRY"] = "3",
            ["GRID_RUN__KL__KIND"] = "fixed",
            ["GRID__CLUSTER"] = "Azure", // the silo's own settings, not a run setting
            ["PATH"] = "/usr/bin",
        };

        var fromEnvironment = RunSettingsLoader.Load("demo", path, environment: environment);
        var flagged = RunSettingsLoader.Load("demo", path, ["kl.beta_max=0.07"], new RunSettingFlags(Steps: 11), environment);

        Assert.Equal((9, 0.05, KlKind.Fixed), (fromEnvironment.Steps, fromEnvironment.Kl.BetaMax, fromEnvironment.Kl.Kind));
        Assert.Equal(["geometry", "counting"], fromEnvironment.Sft.Tasks);
        Assert.Equal(3, fromEnvironment.Sft.TaskWeights["geometry"]);
        Assert.Equal((11, 0.07), (flagged.Steps, flagged.Kl.BetaMax));
    }

    [Fact]
    public void An_unknown_environment_variable_setting_is_refused_naming_the_variable()
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(
            environment: [new("GRID_RUN__KL__BETA_MAXX", "0.1")]));

        Assert.Equal("kl.beta_maxx", e.Setting);
        Assert.Contains("environment variable GRID_RUN__KL__BETA_MAXX", e.Message);
        Assert.Contains("beta_max", e.Message);
    }

    [Fact]
    public void An_unknown_key_is_refused_with_its_name_and_the_known_keys()
    {
        string path = Write("""{ "stesp": 7 }""");

        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(settingsPath: path));

        Assert.Equal("stesp", e.Setting);
        Assert.Contains("steps", e.Message);
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(overrides: ["steps=\"many\""]));

        Assert.Equal("steps", e.Setting);
    }

    [Fact]
    public void Malformed_json_is_refused_with_its_line()
    {
        string path = Write("{\n  \"steps\": 7,\n  \"task\": counting\n}");

        var e = Assert.Throws<InvalidDataException>(() => RunSettingsLoader.Load(settingsPath: path));

        Assert.Contains("line 3", e.Message);
    }

    [Theory]
    [InlineData("group_size=1", "group_size", "[2, 64]")]
    [InlineData("steps=0", "steps", "[1, 1000000]")]
    [InlineData("top_p=1.5", "top_p", "(0, 1]")]
    [InlineData("eps_low=-0.1", "eps_low", "[0, 1)")]
    [InlineData("loss_type=\"ppo\"", "loss_type", "dr_grpo")]
    [InlineData("advantage_scale=\"max\"", "advantage_scale", "batch")]
    [InlineData("task=\"chess\"", "task", "geometry")]
    [InlineData("kl.beta_min=0.5", "kl.beta_min", "beta_max")]
    [InlineData("kl.warmup_fraction=1", "kl.warmup_fraction", "(0, 1)")]
    [InlineData("kl.kind=\"pid\"", "kl.kind", "adaptive")]
    [InlineData("model.heads=3", "model.heads", "divisor")]
    [InlineData("rollouts.max_attempts=0", "rollouts.max_attempts", "[1, 100]")]
    [InlineData("rollouts.attempt_timeout_seconds=0", "rollouts.attempt_timeout_seconds", "(0, 604800]")]
    [InlineData("rollouts.backoff_max_seconds=0.1", "rollouts.backoff_max_seconds", "backoff_initial_seconds (0.5)")]
    [InlineData("rollouts.group_deadline_seconds=65", "rollouts.group_deadline_seconds", "attempt_timeout_seconds + rollouts.backoff_max_seconds (70)")]
    [InlineData("rollouts.watchdog_interval_seconds=0", "rollouts.watchdog_interval_seconds", "[0.1,")]
    [InlineData("faults.verifier_throw_share=1.5", "faults.verifier_throw_share", "[0, 1]")]
    [InlineData("faults.generation_throw_share=-0.1", "faults.generation_throw_share", "[0, 1]")]
    public void Invalid_settings_are_refused_naming_the_setting_and_the_allowed_range(string assignment, string setting, string allowed)
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(overrides: [assignment]));

        Assert.Equal(setting, e.Setting);
        Assert.Contains(allowed, e.Message);
    }

    [Theory]
    [InlineData("eval_every=-1", "eval_every", "-1", "an integer in [0, 1000000]")]
    [InlineData("validation_prompts=0", "validation_prompts", "0", "an integer in [1, 10000]")]
    [InlineData("validation_prompts=-64", "validation_prompts", "-64", "an integer in [1, 10000]")]
    public void Validation_settings_out_of_range_are_refused_naming_key_value_and_what_is_right(
        string assignment, string setting, string value, string allowed)
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(overrides: [assignment]));

        Assert.Equal(setting, e.Setting);
        Assert.StartsWith($"Invalid setting {setting} = {value}: must be {allowed}", e.Message);
    }

    [Theory]
    [InlineData("loss_type=ppo", "loss_type", "\"ppo\"", "one of \"grpo\", \"bnpo\", \"dr_grpo\"")]
    [InlineData("loss_type=GRPO", "loss_type", "\"GRPO\"", "one of \"grpo\", \"bnpo\", \"dr_grpo\"")]
    [InlineData("loss_type=1", "loss_type", "\"1\"", "one of \"grpo\", \"bnpo\", \"dr_grpo\"")]
    [InlineData("advantage_scale=\"group, batch\"", "advantage_scale", "\"group, batch\"", "one of \"group\", \"batch\", \"none\"")]
    [InlineData("kl.kind=linear", "kl.kind", "\"linear\"", "one of \"fixed\", \"dynamic\", \"adaptive\"")]
    [InlineData("kl.kind=null", "kl.kind", "null", "a value such as the default \"dynamic\"")]
    public void Named_choices_take_exactly_their_snake_case_names(string assignment, string setting, string value, string allowed)
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(overrides: [assignment]));

        Assert.Equal(setting, e.Setting);
        Assert.StartsWith($"Invalid setting {setting} = {value}: must be {allowed}", e.Message);
    }

    [Fact]
    public void The_kl_section_is_written_with_exactly_its_settings()
    {
        var kl = System.Text.Json.Nodes.JsonNode.Parse(RunSettingsLoader.ToJson(RunSettingsLoader.Load()))!["kl"]!.AsObject();

        Assert.Equal(["kind", "beta", "beta_min", "beta_max", "warmup_fraction", "target_kl", "horizon"], kl.Select(p => p.Key));
    }

    [Fact]
    public void Named_choices_are_read_and_written_as_their_snake_case_names()
    {
        var settings = RunSettingsLoader.Load(overrides: ["loss_type=dr_grpo", "advantage_scale=none", "kl.kind=adaptive"]);
        string json = RunSettingsLoader.ToJson(settings);

        Assert.Equal((LossType.DrGrpo, AdvantageScale.None, KlKind.Adaptive), (settings.LossType, settings.AdvantageScale, settings.Kl.Kind));
        Assert.Contains("\"loss_type\": \"dr_grpo\"", json);
        Assert.Contains("\"advantage_scale\": \"none\"", json);
        Assert.Contains("\"kind\": \"adaptive\"", json);
    }

    [Fact]
    public void The_demo_preset_validates_every_25_steps_on_64_prompts_per_task_and_the_smoke_preset_not_at_all()
    {
        var demo = RunSettingsLoader.Load("demo");
        var smoke = RunSettingsLoader.Load("smoke");
        var smokeValidating = RunSettingsLoader.Load("smoke", overrides: ["eval_every=1", "validation_prompts=3"]);

        Assert.Equal((25, 64), (demo.EvalEvery, demo.ValidationPrompts));
        Assert.Equal(0, smoke.EvalEvery);
        Assert.Equal((1, 3), (smokeValidating.EvalEvery, smokeValidating.ValidationPrompts));
    }

    [Fact]
    public void An_unknown_preset_is_refused_listing_the_presets()
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("huge"));

        Assert.Contains("smoke", e.Message);
    }

    [Fact]
    public void Settings_round_trip_through_their_json()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: ["kl.kind=fixed", "sft.tasks=[\"geometry\"]"]);
        string path = Write(RunSettingsLoader.ToJson(settings));

        var again = RunSettingsLoader.Load("demo", path);

        Assert.Equal(RunSettingsLoader.ToJson(settings), RunSettingsLoader.ToJson(again));
    }

    private string Write(string json)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
