using Grid.Core.Settings;
using Grid.Training.Experiments;
using Grid.Training.Settings;

namespace Grid.Training.Tests.Experiments;

public sealed class ExperimentPlanTests
{
    private static readonly RunSettings Settings = RunSettingsLoader.Load("demo", overrides: ["steps=60", "seed=7"]);

    private static ExperimentPlan Plan(int seeds = 3, IReadOnlyList<ExperimentArm>? arms = null) =>
        ExperimentPlan.Create(Settings, arms ?? ExperimentArm.Defaults, ["counting", "geometry"], seeds, "/tmp/study/runs");

    [Fact]
    public void The_base_runs_once_first_then_each_training_arm_per_task_and_seed()
    {
        var plan = Plan();

        Assert.Equal(ExperimentArm.Base, plan.Runs[0].Arm);
        Assert.Null(plan.Runs[0].TrainedTask);
        Assert.Equal(1 + (2 * 3 * 3), plan.Runs.Count);
        Assert.Equal(["sft", "grpo", "grpo-d"], plan.Runs.Skip(1).Take(3).Select(r => r.Arm.Name));
        Assert.All(plan.Runs.Skip(1), r => Assert.Equal(r.TrainedTask, r.Settings.Task));
    }

    [Fact]
    public void Seed_k_runs_with_the_settings_seed_plus_k_and_changes_nothing_else_of_an_arm()
    {
        var grpo = Plan().Runs.Where(r => r.Arm == ExperimentArm.GrpoD && r.TrainedTask == "counting").ToArray();

        Assert.Equal([7L, 8L, 9L], grpo.Select(r => r.Seed));
        Assert.Equal([7L, 8L, 9L], grpo.Select(r => r.Settings.Seed));
        Assert.Single(grpo.Select(r => RunSettingsLoader.ToJson(r.Settings with { Seed = 0, Name = "x" })).Distinct());
    }

    [Fact]
    public void Every_arm_starts_from_the_same_base_checkpoint_whatever_its_seed()
    {
        var starts = Plan().Runs.Select(r => r.StartingFrom("/tmp/base/checkpoints/sft").InitCheckpoint).Distinct();

        Assert.Equal("/tmp/base/checkpoints/sft", Assert.Single(starts));
    }

    [Fact]
    public void A_given_base_is_what_the_base_run_evaluates_and_without_one_the_base_run_warm_starts()
    {
        var given = ExperimentPlan.Create(Settings, ExperimentArm.Defaults, ["counting"], 1, "/tmp/study/runs", "/tmp/base/checkpoints/sft");

        Assert.Equal("/tmp/base/checkpoints/sft", given.Base.Settings.InitCheckpoint);
        Assert.Null(Plan().Base.Settings.InitCheckpoint);
        Assert.Equal(Settings.Sft, Plan().Base.Settings.Sft);
    }

    [Fact]
    public void Fixed_beta_grpo_uses_the_papers_best_beta_per_task()
    {
        var grpo = Plan().Runs.Where(r => r.Arm == ExperimentArm.Grpo).ToArray();

        Assert.All(grpo, r => Assert.Equal(KlKind.Fixed, r.Settings.Kl.Kind));
        Assert.All(grpo.Where(r => r.TrainedTask == "counting"), r => Assert.Equal(0.04, r.Settings.Kl.Beta));
        Assert.All(grpo.Where(r => r.TrainedTask == "geometry"), r => Assert.Equal(0.01, r.Settings.Kl.Beta));
    }

    [Fact]
    public void Grpo_d_uses_the_papers_beta_range_per_task_with_a_30_percent_warmup()
    {
        var grpoD = Plan().Runs.Where(r => r.Arm == ExperimentArm.GrpoD).ToArray();

        Assert.All(grpoD, r => Assert.Equal((KlKind.Dynamic, 0.3), (r.Settings.Kl.Kind, r.Settings.Kl.WarmupFraction)));
        Assert.All(grpoD.Where(r => r.TrainedTask == "counting"),
            r => Assert.Equal((0.04, 0.1), (r.Settings.Kl.BetaMin, r.Settings.Kl.BetaMax)));
        Assert.All(grpoD.Where(r => r.TrainedTask == "geometry"),
            r => Assert.Equal((0.0, 0.02), (r.Settings.Kl.BetaMin, r.Settings.Kl.BetaMax)));
    }

    [Fact]
    public void The_adaptive_arm_starts_from_the_tasks_fixed_beta()
    {
        var adaptive = Plan(arms: ExperimentArm.ParseList("adaptive")).Runs.Where(r => r.Arm == ExperimentArm.Adaptive).ToArray();

        Assert.All(adaptive, r => Assert.Equal(KlKind.Adaptive, r.Settings.Kl.Kind));
        Assert.All(adaptive, r => Assert.Equal(PaperKl.FixedBeta(r.TrainedTask!), r.Settings.Kl.Beta));
    }

    [Fact]
    public void Sft_makes_as_many_updates_as_rl_steps_on_as_many_examples_as_rl_sees_prompts_of_its_task_only()
    {
        var sft = Plan().Runs.Where(r => r.Arm == ExperimentArm.Sft).ToArray();

        Assert.All(sft, r => Assert.Equal(Settings.Steps, r.Settings.Sft.Steps));
        Assert.All(sft, r => Assert.Equal(Settings.PromptsPerStep, r.Settings.Sft.BatchSize));
        Assert.All(sft, r => Assert.Equal([r.TrainedTask!], r.Settings.Sft.Tasks));
        Assert.All(sft, r => Assert.Equal(Settings.Kl, r.Settings.Kl));
    }

    [Fact]
    public void Rl_arms_get_the_same_compute_as_the_settings_give()
    {
        var shapes = Plan(arms: ExperimentArm.ParseList("grpo,grpo-d,adaptive")).Runs.Where(r => r.Arm.IsRl)
            .Select(r => ComputeShape.Of(r.Settings)).Distinct();

        Assert.Equal(ComputeShape.Of(Settings), Assert.Single(shapes));
    }

    [Fact]
    public void Fewer_than_one_seed_is_refused()
    {
        var e = Assert.Throws<InvalidSettingException>(() => Plan(seeds: 0));

        Assert.Equal("seeds", e.Setting);
    }
}
