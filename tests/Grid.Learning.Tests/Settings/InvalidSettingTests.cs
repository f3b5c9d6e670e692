using Grid.Learning.Advantages;
using Grid.Learning.KlControl;
using Grid.Learning.Objective;
using Refusal = (System.Action Act, string Setting, string Value, string Allowed);

namespace Grid.Learning.Tests.Settings;

/// <summary>Every invalid setting is refused naming the setting, the value and the allowed range.</summary>
public sealed class InvalidSettingTests
{
    private const long Steps = 1000;
    private static readonly KlSettings s_dynamic = new() { Kind = KlKind.Dynamic };
    private static readonly KlSettings s_adaptive = new() { Kind = KlKind.Adaptive };

    private static readonly Dictionary<string, Refusal> s_cases = new()
    {
        ["beta_min above beta_max"] = (() => (s_dynamic with { BetaMin = 0.2, BetaMax = 0.1 }).Validate(Steps),
            "kl.beta_min", "0.2", "<= beta_max (0.1)"),
        ["warmup_fraction of 0"] = (() => (s_dynamic with { WarmupFraction = 0 }).Validate(Steps),
            "kl.warmup_fraction", "0", "in the open interval (0, 1)"),
        ["warmup_fraction of 1"] = (() => (s_dynamic with { WarmupFraction = 1 }).Validate(Steps),
            "kl.warmup_fraction", "1", "in the open interval (0, 1)"),
        ["warmup_fraction NaN"] = (() => (s_dynamic with { WarmupFraction = double.NaN }).Validate(Steps),
            "kl.warmup_fraction", "NaN", "in the open interval (0, 1)"),
        ["total_steps of 0"] = (() => s_dynamic.Validate(totalSteps: 0),
            "steps", "0", ">= 1"),
        ["dynamic controller for a run of 0 steps"] = (() => KlControllers.Create(s_dynamic, totalSteps: 0),
            "steps", "0", ">= 1"),
        ["negative beta"] = (() => new KlSettings { Kind = KlKind.Fixed, Beta = -0.01 }.Validate(Steps),
            "kl.beta", "-0.01", "a finite number >= 0"),
        ["negative beta_min"] = (() => (s_dynamic with { BetaMin = -0.04 }).Validate(Steps),
            "kl.beta_min", "-0.04", "a finite number >= 0"),
        ["infinite beta_max"] = (() => (s_dynamic with { BetaMax = double.PositiveInfinity }).Validate(Steps),
            "kl.beta_max", "Infinity", "a finite number >= 0"),
        ["zero adaptive beta"] = (() => KlControllers.Create(s_adaptive with { Beta = 0 }, Steps),
            "kl.beta", "0", "a finite number > 0 for the adaptive controller"),
        ["target_kl of 0"] = (() => (s_adaptive with { TargetKl = 0 }).Validate(Steps),
            "kl.target_kl", "0", "a finite number > 0"),
        ["negative target_kl"] = (() => (s_adaptive with { TargetKl = -6 }).Validate(Steps),
            "kl.target_kl", "-6", "a finite number > 0"),
        ["horizon of 0"] = (() => (s_adaptive with { Horizon = 0 }).Validate(Steps),
            "kl.horizon", "0", ">= 1"),
        ["unknown kl.kind"] = (() => SettingNames<KlKind>.Parse("kl.kind", "linear"),
            "kl.kind", "\"linear\"", "one of \"fixed\", \"dynamic\", \"adaptive\""),
        ["unknown loss_type"] = (() => SettingNames<LossType>.Parse("loss_type", "ppo"),
            "loss_type", "\"ppo\"", "one of \"grpo\", \"bnpo\", \"dr_grpo\""),
        ["unknown advantage_scale"] = (() => SettingNames<AdvantageScale>.Parse("advantage_scale", "std"),
            "advantage_scale", "\"std\"", "one of \"group\", \"batch\", \"none\""),
    };

    public static TheoryData<string> Cases => new(s_cases.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Is_refused_naming_the_setting_the_value_and_the_allowed_range(string name)
    {
        var (act, setting, value, allowed) = s_cases[name];

        var error = Assert.Throws<InvalidSettingException>(act);

        Assert.Equal(setting, error.Setting);
        Assert.StartsWith($"Invalid setting {setting} = {value}: must be ", error.Message);
        Assert.Contains(allowed, error.Allowed);
        Assert.Contains(allowed, error.Message);
    }

    /// <summary>Built directly with a value the run's validator refuses (where the user's message comes from, once):
    /// a plain guard naming the argument, for the programmer.</summary>
    private static readonly Dictionary<string, (Action Act, string Parameter)> s_guards = new()
    {
        ["schedule with beta_min above beta_max"] = (() => DynamicKlSchedule.Beta(0, 100, 0.3, 0.2, 0.1), "betaMin"),
        ["schedule with total_steps 0"] = (() => DynamicKlSchedule.Beta(0, 0, 0.3, 0.04, 0.1), "totalSteps"),
        ["fixed controller with a negative beta"] = (() => _ = new FixedKlController(-0.01), "beta"),
        ["adaptive controller with target_kl 0"] = (() => _ = new AdaptiveKlController(0.1, 0, 10000), "targetKl"),
        ["negative eps_low"] = (() => new GrpoLossSettings { EpsLow = -0.1 }.Validate(), "EpsLow"),
        ["eps_low of 1"] = (() => new GrpoLossSettings { EpsLow = 1 }.Validate(), "EpsLow"),
        ["negative eps_high"] = (() => new GrpoLossSettings { EpsHigh = -0.28 }.Validate(), "EpsHigh"),
        ["dr_grpo without max_completion_length"] = (() => new GrpoLossSettings { LossType = LossType.DrGrpo }.Validate(),
            "MaxCompletionLength"),
        ["group_size of 1"] = (() => new AdvantageSettings { GroupSize = 1 }.Validate(), "groupSize"),
    };

    public static TheoryData<string> Guards => new(s_guards.Keys);

    [Theory]
    [MemberData(nameof(Guards))]
    public void Is_refused_by_a_plain_guard_when_built_directly(string name)
    {
        var (act, parameter) = s_guards[name];

        var error = Assert.Throws<ArgumentOutOfRangeException>(act);

        Assert.Equal(parameter, error.ParamName);
    }

    [Fact]
    public void The_message_reads_as_documented()
    {
        var error = Assert.Throws<InvalidSettingException>(
            () => (s_dynamic with { BetaMin = 0.2, BetaMax = 0.1 }).Validate(Steps));

        Assert.Equal("Invalid setting kl.beta_min = 0.2: must be <= beta_max (0.1).", error.Message);
        Assert.Equal(0.2, error.Value);
        Assert.IsAssignableFrom<ArgumentException>(error);
    }

    [Theory]
    [InlineData("grpo", LossType.Grpo)]
    [InlineData("bnpo", LossType.Bnpo)]
    [InlineData("dr_grpo", LossType.DrGrpo)]
    public void Loss_types_parse_from_their_config_spelling_and_back(string text, LossType lossType)
    {
        Assert.Equal(lossType, SettingNames<LossType>.Parse("loss_type", text));
        Assert.Equal(text, SettingNames<LossType>.Name(lossType));
        Assert.Equal($"\"{text}\"", System.Text.Json.JsonSerializer.Serialize(lossType));
        Assert.Equal(lossType, System.Text.Json.JsonSerializer.Deserialize<LossType>($"\"{text}\""));
    }

    [Fact]
    public void The_defaults_are_valid()
    {
        new GrpoLossSettings().Validate();
        new AdvantageSettings().Validate();
        (s_dynamic with { }).Validate(Steps);
        new KlSettings { Kind = KlKind.Fixed }.Validate(Steps);
        s_adaptive.Validate(Steps);

        Assert.Equal(0.2, new GrpoLossSettings().EpsLow);
        Assert.Equal(0.2, new GrpoLossSettings().EpsHigh);
        Assert.Equal(0.3, new KlSettings().WarmupFraction);
        Assert.Equal(10000, new KlSettings().Horizon);
    }
}
