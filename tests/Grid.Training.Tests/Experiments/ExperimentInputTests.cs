using Grid.Core.Settings;
using Grid.Training.Experiments;
using Grid.Training.Settings;

namespace Grid.Training.Tests.Experiments;

public sealed class ExperimentInputTests
{
    [Fact]
    public void Arms_are_read_in_table_order_each_once()
    {
        Assert.Equal(["base", "sft", "grpo-d"], ExperimentArm.ParseList("grpo-d, base,sft,grpo-d").Select(a => a.Name));
        Assert.Equal(["base", "sft", "grpo", "grpo-d"], ExperimentArm.Defaults.Select(a => a.Name));
    }

    [Fact]
    public void An_unknown_arm_is_refused_naming_it_and_the_known_ones()
    {
        var e = Assert.Throws<InvalidSettingException>(() => ExperimentArm.ParseList("sft,grpo-x"));

        Assert.Equal("arms", e.Setting);
        Assert.Equal("grpo-x", e.Value);
        Assert.Contains("\"adaptive\"", e.Message);
    }

    [Fact]
    public void An_unknown_task_is_refused_naming_it_and_the_known_ones()
    {
        var e = Assert.Throws<InvalidSettingException>(() => ExperimentTasks.ParseList("counting,chess"));

        Assert.Equal("chess", e.Value);
        Assert.Contains("\"geometry\"", e.Message);
    }

    [Fact]
    public void A_budget_other_than_small_or_full_is_refused()
    {
        var e = Assert.Throws<InvalidSettingException>(() => ExperimentBudget.Parse("medium"));

        Assert.Equal("budget", e.Setting);
        Assert.Contains("\"small\"", e.Message);
    }

    [Fact]
    public void The_small_budget_lowers_steps_and_eval_prompts_only_and_says_exactly_that()
    {
        var settings = RunSettingsLoader.Load("demo", overrides: ["steps=200", "eval_prompts=500"]);

        var small = ExperimentBudget.Small.Apply(settings);

        Assert.Equal(RunSettingsLoader.ToJson(settings with { Steps = 60, EvalPrompts = 200 }), RunSettingsLoader.ToJson(small));
        Assert.Equal(["steps: 200 -> 60", "eval_prompts: 500 -> 200"], ExperimentBudget.Small.Changes(settings));
        Assert.Equal("budget small: steps: 200 -> 60; eval_prompts: 500 -> 200", ExperimentBudget.Small.Describe(settings));
    }

    [Fact]
    public void The_small_budget_never_raises_a_setting_and_the_full_budget_changes_nothing()
    {
        var settings = RunSettingsLoader.Load("smoke");

        Assert.Same(settings, ExperimentBudget.Full.Apply(settings));
        Assert.Empty(ExperimentBudget.Small.Changes(settings));
        Assert.Equal(settings.Steps, ExperimentBudget.Small.Apply(settings).Steps);
    }

    [Fact]
    public void Settings_that_differ_from_the_defaults_are_listed_with_both_values()
    {
        var settings = RunSettingsLoader.Load("demo", overrides: ["steps=60", "kl.beta_max=0.05"]);

        int defaultSteps = new RunSettings().Steps;
        Assert.Equal([$"steps: {defaultSteps} -> 60", "kl.beta_max: 0.02 -> 0.05"], SettingsDifference.From(new RunSettings(), settings));
    }

    [Fact]
    public void The_time_left_follows_the_finished_runs_of_the_same_kind_per_step()
    {
        var plan = ExperimentPlan.Create(RunSettingsLoader.Load("demo", overrides: ["steps=50"]), ExperimentArm.ParseList("grpo,grpo-d"),
            ["counting"], seeds: 2, "/tmp/study/runs");
        var rl = plan.Runs.Where(r => r.Arm.IsRl).ToArray();
        var eta = new ExperimentEta();

        eta.Record(rl[0], seconds: 100);

        Assert.Equal(TimeSpan.FromSeconds(300), eta.Remaining(rl.Skip(1)));
    }
}
