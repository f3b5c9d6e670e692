using Grid.Core.Settings;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>Settings a user can type that once crashed or ran away; each is refused naming the setting and the fix.</summary>
public sealed class RunSettingsHostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("grid-settings-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("kl=null", "kl", "JSON object")]
    [InlineData("rollouts=null", "rollouts", "JSON object")]
    [InlineData("faults=null", "faults", "JSON object")]
    [InlineData("model=3", "model", "JSON object")]
    [InlineData("sft.tasks=null", "sft.tasks", "JSON array")]
    [InlineData("sft.task_weights=null", "sft.task_weights", "JSON object")]
    [InlineData("steps=null", "steps", "null is not a value")]
    [InlineData("kl.beta=null", "kl.beta", "null is not a value")]
    public void Null_or_the_wrong_kind_for_a_group_is_refused_naming_it(string assignment, string setting, string wanted)
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: [assignment]));

        Assert.Equal(setting, e.Setting);
        Assert.Contains(wanted, e.Message);
    }

    [Fact]
    public void A_settings_file_giving_a_key_twice_is_refused_naming_the_key()
    {
        string path = Write("""{ "steps": 3, "kl": { "kind": "fixed", "kind": "dynamic" } }""");

        var e = Assert.Throws<InvalidDataException>(() => RunSettingsLoader.Load("smoke", path));

        Assert.Contains("'kind'", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("each key once", e.Message);
    }

    [Fact]
    public void An_override_giving_a_key_twice_is_refused_instead_of_read_as_a_string()
    {
        var e = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load("smoke", overrides: ["""kl={"kind":"fixed","kind":"dynamic"}"""]));

        Assert.Equal("kl", e.Setting);
        Assert.Contains("give each key once", e.Message);
    }

    [Theory]
    [InlineData("prompts_per_step=1000000", "prompts_per_step", "[1, 2048]")]
    [InlineData("group_size=100000", "group_size", "[2, 64]")]
    [InlineData("steps=2000000", "steps", "[1, 1000000]")]
    [InlineData("eval_prompts=100000", "eval_prompts", "[1, 10000]")]
    [InlineData("validation_prompts=100000", "validation_prompts", "[1, 10000]")]
    [InlineData("threads=100000", "threads", "up to 256")]
    [InlineData("sft.demonstrations=100000000", "sft.demonstrations", "[1, 20000]")]
    [InlineData("sft.batch_size=100000", "sft.batch_size", "[1, 1024]")]
    [InlineData("model.d_model=4096", "model.d_model", "[8, 1024]")]
    [InlineData("temperature=1e300", "temperature", "(0, 100]")]
    [InlineData("kl.beta_max=1e300", "kl.beta_max", "<= 100")]
    [InlineData("rollouts.attempt_timeout_seconds=1e300", "rollouts.attempt_timeout_seconds", "a week")]
    public void Every_value_has_an_upper_bound_stated_in_the_refusal(string assignment, string setting, string bound)
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: [assignment]));

        Assert.Equal(setting, e.Setting);
        Assert.Contains(bound, e.Message);
    }

    [Fact]
    public void Completions_per_step_are_bounded_together()
    {
        var e = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load("smoke", overrides: ["prompts_per_step=2048", "group_size=64"]));

        Assert.Equal("prompts_per_step", e.Setting);
        Assert.Contains($"at most {RunSettingsValidator.MaxCompletionsPerStep}", e.Message);
        Assert.Equal(1024, RunSettingsLoader.Load("smoke", overrides: ["prompts_per_step=1024", "group_size=8"]).PromptsPerStep);
    }

    [Fact]
    public void A_model_too_large_in_total_is_refused_with_the_layers_it_could_have()
    {
        var e = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load("smoke", overrides: ["model.d_model=1024", "model.layers=32", "model.heads=8"]));

        Assert.Equal("model.layers", e.Setting);
        Assert.Contains("at most 3 with model.d_model 1024", e.Message);
    }

    [Fact]
    public void An_overflowing_number_is_refused_showing_the_value_and_the_kind_wanted()
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: ["steps=1e99"]));

        Assert.Equal("steps", e.Setting);
        Assert.Contains("1e99", e.Message);
        Assert.Contains("whole number", e.Message);
    }

    [Fact]
    public void An_overlong_name_is_refused_and_shown_shortened()
    {
        var e = Assert.Throws<InvalidSettingException>(() =>
            RunSettingsLoader.Load("smoke", overrides: [$"name={new string('a', 5000)}"]));

        Assert.Equal("name", e.Setting);
        Assert.Contains("(5000 characters)", e.Message);
        Assert.True(e.Message.Length < 400, e.Message);
    }

    [Fact]
    public void A_task_weight_may_name_any_task_as_its_key()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: ["sft.task_weights.geometry=3"]);

        Assert.Equal(3, settings.Sft.TaskWeights["geometry"]);
        Assert.Equal(2, settings.Sft.TaskWeights["counting"]);
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: ["sft.task_weights.poetry=3"]));
        Assert.Equal("sft.task_weights", e.Setting);
    }

    [Fact]
    public void A_settings_file_that_is_a_folder_or_too_large_is_refused_unread()
    {
        Assert.Contains("is a folder", Assert.Throws<FileNotFoundException>(() => RunSettingsLoader.Load("smoke", _dir)).Message);
        string large = Write("{\"name\": \"" + new string('a', (int)RunSettingsLoader.MaxFileBytes) + "\"}");
        Assert.Contains($"at most {RunSettingsLoader.MaxFileBytes} bytes",
            Assert.Throws<InvalidDataException>(() => RunSettingsLoader.Load("smoke", large)).Message);
    }

    private string Write(string json)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
