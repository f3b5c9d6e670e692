using Grid.Training.Settings;
using Microsoft.Extensions.Configuration;

namespace Grid.Training.Tests;

/// <summary>
/// The run settings' layers on the .NET configuration stack: a host's configuration is one more layer with the same
/// precedence, a list given by a later layer replaces the list (configuration alone would merge it by index), and
/// values that configuration turns into strings are still refused by type, null and name as before.
/// </summary>
public sealed class RunSettingsConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("grid-settings-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_later_layer_that_sets_a_list_replaces_it_instead_of_merging_by_index()
    {
        string path = Write("""{ "sft": { "tasks": ["counting", "geometry", "counting"] } }""");

        var fromFile = RunSettingsLoader.Load("smoke", path, environment: []);
        var fromEnvironment = RunSettingsLoader.Load("smoke", path, environment: [new("GRID_RUN__SFT__TASKS__0", "geometry")]);
        var fromHost = RunSettingsLoader.Load(Memory(("sft:tasks:0", "counting")), null, "smoke", path, environment: []);
        var fromSet = RunSettingsLoader.Load(Memory(("sft:tasks:0", "counting"), ("sft:tasks:1", "geometry")), null, "smoke", path,
            ["sft.tasks=[\"geometry\"]"], environment: []);

        Assert.Equal(["counting", "geometry", "counting"], fromFile.Sft.Tasks);
        Assert.Equal(["geometry"], fromEnvironment.Sft.Tasks);
        Assert.Equal(["counting"], fromHost.Sft.Tasks);
        Assert.Equal(["geometry"], fromSet.Sft.Tasks);
        // The plain configuration view of the same layers merges by index: the reason the loader walks the providers.
        var merged = RunSettingsLoader.Sources("smoke", path, environment: [new("GRID_RUN__SFT__TASKS__0", "geometry")]).Build();
        Assert.Equal(["geometry", "geometry", "counting"],
            merged.GetSection("sft:tasks").GetChildren().OrderBy(c => int.Parse(c.Key)).Select(c => c.Value));
    }

    [Fact]
    public void Within_a_host_configuration_its_later_provider_replaces_a_list_too_and_an_empty_list_is_a_list()
    {
        string appsettings = Write("""{ "Grid": { "Run": { "sft": { "tasks": ["counting", "geometry", "counting"] }, "steps": 5 } } }""");
        string later = Write("""{ "Grid": { "Run": { "sft": { "tasks": ["geometry"] } } } }""");
        string empty = Write("""{ "Grid": { "Run": { "sft": { "tasks": [] } } } }""");
        var host = new ConfigurationBuilder().AddJsonFile(appsettings).AddJsonFile(later).Build();

        var settings = RunSettingsLoader.Load(host, "Grid:Run", "smoke", environment: []);
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(
            new ConfigurationBuilder().AddJsonFile(appsettings).AddJsonFile(empty).Build(), "Grid:Run", "smoke", environment: []));

        Assert.Equal(5, settings.Steps);
        Assert.Equal(["geometry"], settings.Sft.Tasks);
        Assert.Equal("sft.tasks", e.Setting);
        Assert.Contains("at least one task", e.Message);
    }

    [Fact]
    public void A_host_configuration_sits_between_the_file_and_the_environment()
    {
        string path = Write("""{ "steps": 7, "seed": 3, "kl": { "beta_max": 0.2 } }""");
        var host = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grid:Run:steps"] = "8",
            ["Grid:Run:KL:Beta_Max"] = "0.3", // configuration keys are case-insensitive
            ["Grid:Run:task"] = "counting",
            ["Grid:Cluster"] = "Azure", // the silo's settings beside them are no run settings
        }).Build();

        var overFile = RunSettingsLoader.Load(host, "Grid:Run", "demo", path, environment: []);
        var underEnvironment = RunSettingsLoader.Load(host, "Grid:Run", "demo", path,
            environment: [new("GRID_RUN__STEPS", "9"), new("GRID_RUN__TASK", "geometry")]);
        var underFlagsAndSet = RunSettingsLoader.Load(host, "Grid:Run", "demo", path, ["kl.beta_max=0.05"],
            new RunSettingFlags(Steps: 10), environment: [new("GRID_RUN__STEPS", "9")]);

        Assert.Equal((8, 3L, 0.3, "counting"), (overFile.Steps, overFile.Seed, overFile.Kl.BetaMax, overFile.Task));
        Assert.Equal((9, "geometry"), (underEnvironment.Steps, underEnvironment.Task));
        Assert.Equal((10, 0.05), (underFlagsAndSet.Steps, underFlagsAndSet.Kl.BetaMax));
    }

    [Fact]
    public void A_host_may_add_its_own_sources_to_the_builder_and_the_order_of_the_builder_is_the_precedence()
    {
        var builder = RunSettingsLoader.Sources("smoke", overrides: ["steps=5"], environment: [])
            .AddInMemoryCollection(new Dictionary<string, string?> { ["steps"] = "6", ["kl:kind"] = "fixed" });

        var root = builder.Build();
        var settings = RunSettingsLoader.Resolve(root);

        Assert.Equal((6, KlKind.Fixed), (settings.Steps, settings.Kl.Kind));
        // The JSON layers are ordinary configuration to any other reader.
        Assert.Equal("6", root["steps"]);
        Assert.Equal("smoke", root["name"]);
        Assert.Equal("geometry", root["sft:tasks:1"]);
        Assert.Equal(5, RunSettingsLoader.Resolve(RunSettingsLoader.Sources("smoke", overrides: ["steps=5"], environment: []).Build()).Steps);
    }

    [Fact]
    public void Environment_variables_are_a_configuration_source_with_case_insensitive_names_in_a_fixed_order()
    {
        KeyValuePair<string, string?>[] variables = [new("GRID_RUN__STEPS", "5"), new("grid_run__steps", "6"), new("Grid_Run__Kl__Beta_Max", "0.05")];

        var root = RunSettingsLoader.Sources("smoke", environment: variables).Build();
        var forward = RunSettingsLoader.Load("smoke", environment: variables);
        var backward = RunSettingsLoader.Load("smoke", environment: variables.Reverse());

        Assert.Contains(root.Providers, p => p is RunSettingsEnvironmentProvider);
        Assert.Equal(("6", "0.05"), (root["steps"], root["kl:beta_max"]));
        Assert.Equal((6, 0.05), (forward.Steps, forward.Kl.BetaMax));
        Assert.Equal((6, 0.05), (backward.Steps, backward.Kl.BetaMax));
    }

    [Theory]
    [InlineData("GRID_RUN__STEPS", "abc", "steps", "\"abc\"", "a whole number")]
    [InlineData("GRID_RUN__STEPS", "1.5", "steps", "\"1.5\"", "a whole number")]
    [InlineData("GRID_RUN__KL__BETA", "high", "kl.beta", "\"high\"", "a finite number")]
    [InlineData("GRID_RUN__SEED", "1e99", "seed", "\"1e99\"", "a whole number (64-bit)")]
    public void A_stringified_value_of_the_wrong_type_is_refused_naming_key_value_and_type(
        string variable, string value, string setting, string shown, string wanted)
    {
        var fromEnvironment = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", environment: [new(variable, value)]));
        var fromHost = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load(Memory((setting.Replace('.', ':'), value)), null, "smoke", environment: []));
        var fromSet = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: [$"{setting}={value}"], environment: []));

        Assert.All([fromEnvironment, fromHost, fromSet], e =>
        {
            Assert.Equal(setting, e.Setting);
            Assert.StartsWith($"Invalid setting {setting} = {shown}: must be {wanted}", e.Message);
        });
    }

    [Fact]
    public void A_string_setting_takes_a_number_looking_value_as_text_and_a_switch_takes_dotnet_casing()
    {
        var settings = RunSettingsLoader.Load(Memory(("name", "2024"), ("keep_all_weights", "True")), null, "smoke", environment: []);

        Assert.Equal(("2024", true), (settings.Name, settings.KeepAllWeights));
    }

    [Fact]
    public void A_json_layer_keeps_its_types_so_a_quoted_number_in_a_file_is_still_refused()
    {
        string path = Write("""{ "steps": "7" }""");

        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", path, environment: []));

        Assert.Equal("steps", e.Setting);
        Assert.Contains("a whole number", e.Message);
    }

    [Fact]
    public void Null_is_refused_for_a_setting_with_a_default_and_absent_keeps_the_default()
    {
        string nullFile = Write("""{ "steps": null }""");
        string unsetFile = Write("""{ "init_checkpoint": null, "data": { "train": null } }""");

        var fromFile = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", nullFile, environment: []));
        var fromHost = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load(Memory(("kl:beta", null)), null, "smoke", environment: []));
        var absent = RunSettingsLoader.Load(Memory(("kl:kind", "fixed")), null, "smoke", environment: []);
        var unset = RunSettingsLoader.Load("smoke", unsetFile, ["data.tolerance=null"], environment: []);

        Assert.Equal("steps", fromFile.Setting);
        Assert.Equal("kl.beta", fromHost.Setting);
        Assert.All([fromFile, fromHost], e => Assert.Contains("null is not a value here; leave the key out", e.Message));
        Assert.Equal(0.01, absent.Kl.Beta);
        Assert.Equal((null, null, null), (unset.InitCheckpoint, unset.Data.Train, unset.Data.Tolerance));
    }

    [Theory]
    [InlineData("GRID_RUN__LOSS_TYPE", "PPO", "loss_type", "one of \"grpo\", \"bnpo\", \"dr_grpo\"")]
    [InlineData("GRID_RUN__KL__KIND", "1", "kl.kind", "one of \"fixed\", \"dynamic\", \"adaptive\"")]
    [InlineData("GRID_RUN__ADVANTAGE_SCALE", "Group", "advantage_scale", "one of \"group\", \"batch\", \"none\"")]
    public void A_named_choice_from_a_string_layer_takes_exactly_its_names(string variable, string value, string setting, string allowed)
    {
        var fromEnvironment = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", environment: [new(variable, value)]));
        var fromHost = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load(Memory((setting.Replace('.', ':'), value)), null, "smoke", environment: []));

        Assert.All([fromEnvironment, fromHost], e =>
            Assert.Equal($"Invalid setting {setting} = \"{value}\": must be {allowed}.", e.Message));
        Assert.Equal(LossType.DrGrpo, RunSettingsLoader.Load(Memory(("loss_type", "dr_grpo")), null, "smoke", environment: []).LossType);
    }

    [Fact]
    public void An_unknown_host_key_is_refused_with_the_known_keys_and_a_task_weight_may_be_any_task()
    {
        var e = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load(Memory(("kl:beta_maxx", "0.1")), null, "smoke", environment: []));
        var weighted = RunSettingsLoader.Load(Memory(("sft:task_weights:Geometry", "3")), null, "smoke", environment: []);

        Assert.Equal("kl.beta_maxx", e.Setting);
        Assert.Contains("from configuration", e.Message);
        Assert.Contains("beta_max", e.Message);
        Assert.Equal((3, 2), (weighted.Sft.TaskWeights["geometry"], weighted.Sft.TaskWeights["counting"]));
    }

    [Fact]
    public void A_group_given_a_value_is_refused_from_every_kind_of_layer()
    {
        var fromEnvironment = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", environment: [new("GRID_RUN__MODEL", "3")]));
        var fromHost = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(Memory(("kl", "fixed")), null, "smoke", environment: []));
        var groupAsJson = RunSettingsLoader.Load("smoke", environment: [new("GRID_RUN__KL", """{"kind": "fixed", "beta": 0.04}""")]);

        Assert.Equal(("model", "kl"), (fromEnvironment.Setting, fromHost.Setting));
        Assert.Contains("environment variable GRID_RUN__MODEL", fromEnvironment.Message);
        Assert.All([fromEnvironment, fromHost], e => Assert.Contains("a JSON object", e.Message));
        Assert.Equal((KlKind.Fixed, 0.04), (groupAsJson.Kl.Kind, groupAsJson.Kl.Beta));
    }

    private static IConfigurationRoot Memory(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private string Write(string json)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
