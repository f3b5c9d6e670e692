using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>The settings the objective, the advantages and the KL controllers take are refused for the user once, where
/// the run's settings are loaded (their own types keep only plain guards), naming the setting as the run spells it.</summary>
public sealed class LearningSettingsRefusalTests
{
    [Theory]
    [InlineData("eps_low=1", "eps_low", "1", "a number in [0, 1)")]
    [InlineData("eps_high=-0.28", "eps_high", "-0.28", "a number in [0, 10]")]
    [InlineData("group_size=1", "group_size", "1", "an integer in [2, 64]")]
    [InlineData("max_new_tokens=0", "max_new_tokens", "0", "an integer in [4, 256]")]
    [InlineData("kl.beta_min=0.2", "kl.beta_min", "0.2", "<= beta_max (0.02)")]
    [InlineData("kl.beta=-0.01", "kl.beta", "-0.01", "a finite number >= 0")]
    [InlineData("rollouts.max_staleness=-1", "rollouts.max_staleness", "-1", "an integer in [0, 16]")]
    [InlineData("rollouts.max_staleness=17", "rollouts.max_staleness", "17", "an integer in [0, 16]")]
    [InlineData("max_importance_weight=1", "max_importance_weight", "1", "a number in (1, 1000000]")]
    [InlineData("importance_weight_cap=clip", "importance_weight_cap", "\"clip\"", "one of")]
    public void Is_refused_by_the_run_settings_validator(string assignment, string setting, string value, string allowed)
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: [assignment], environment: []));

        Assert.StartsWith($"Invalid setting {setting} = {value}: must be {allowed}", e.Message);
    }

    [Fact]
    public void Valid_settings_build_the_objective_settings_without_a_second_refusal()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: ["loss_type=dr_grpo"], environment: []);

        Assert.Equal(settings.MaxNewTokens, LossSettings.From(settings).MaxCompletionLength);
    }

    [Fact]
    public void The_importance_weight_cap_reaches_the_objective()
    {
        var settings = RunSettingsLoader.Load("smoke",
            overrides: ["rollouts.max_staleness=2", "max_importance_weight=5", "importance_weight_cap=truncate"], environment: []);

        Assert.Equal(2, settings.Rollouts.MaxStaleness);
        var loss = LossSettings.From(settings);
        Assert.Equal(5, loss.MaxImportanceWeight);
        Assert.Equal(Grid.Core.Settings.ImportanceWeightCap.Truncate, loss.ImportanceWeightCap);
    }
}
