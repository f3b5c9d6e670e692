using System.Text.Json;
using Grid.Learning.KlControl;

namespace Grid.Learning.Tests.KlControl;

public sealed class KlControllerTests
{
    private const long Steps = 100;

    private static readonly KlSettings s_dynamic =
        new() { Kind = KlKind.Dynamic, WarmupFraction = 0.3, BetaMin = 0.04, BetaMax = 0.1 };

    private static readonly KlSettings s_adaptive =
        new() { Kind = KlKind.Adaptive, Beta = 0.1, TargetKl = 1, Horizon = 100 };

    [Fact]
    public void Dynamic_beta_starts_at_the_midpoint_bottoms_at_w_and_ends_at_beta_max()
    {
        Assert.Equal(0.07, DynamicKlSchedule.Beta(0, 100, 0.3, 0.04, 0.1), 12);
        Assert.Equal(0.04, DynamicKlSchedule.Beta(30, 100, 0.3, 0.04, 0.1), 12);
        Assert.Equal(0.1, DynamicKlSchedule.Beta(100, 100, 0.3, 0.04, 0.1), 12);
    }

    [Fact]
    public void Dynamic_beta_holds_beta_max_past_the_last_step()
    {
        Assert.Equal(0.1, DynamicKlSchedule.Beta(101, 100, 0.3, 0.04, 0.1));
        Assert.Equal(0.1, DynamicKlSchedule.Beta(1_000_000, 100, 0.3, 0.04, 0.1));
    }

    [Fact]
    public void Exploration_steps_round_half_to_even_like_python()
    {
        Assert.Equal(2, DynamicKlSchedule.ExplorationSteps(5, 0.5));   // round(2.5) = 2
        Assert.Equal(4, DynamicKlSchedule.ExplorationSteps(7, 0.5));   // round(3.5) = 4
        Assert.Equal(34, DynamicKlSchedule.ExplorationSteps(137, 0.25)); // round(34.25) = 34
    }

    [Fact]
    public void A_run_too_short_for_an_exploration_phase_rises_from_beta_min()
    {
        // w = round(0.3 * 1) = 0
        Assert.Equal(0.04, DynamicKlSchedule.Beta(0, 1, 0.3, 0.04, 0.1), 12);
        Assert.Equal(0.1, DynamicKlSchedule.Beta(1, 1, 0.3, 0.04, 0.1), 12);
    }

    [Fact]
    public void Fixed_beta_ignores_observations()
    {
        var controller = KlControllers.Create(new KlSettings { Kind = KlKind.Fixed, Beta = 0.04 }, Steps);

        controller.Observe(0, observedKl: 100, samples: 512);

        Assert.Equal(0.04, controller.BetaAt(0));
        Assert.Equal(0.04, controller.BetaAt(10_000));
        Assert.Equal(new KlControllerState("fixed", 0.04, 0), controller.State);
    }

    [Fact]
    public void Dynamic_beta_ignores_observations()
    {
        var controller = KlControllers.Create(s_dynamic, Steps);

        controller.Observe(0, observedKl: 100, samples: 512);

        Assert.Equal(0.07, controller.BetaAt(0), 12);
    }

    [Fact]
    public void Adaptive_beta_rises_when_kl_is_above_target_and_falls_when_below()
    {
        var controller = KlControllers.Create(s_adaptive, Steps);

        controller.Observe(0, observedKl: 5, samples: 10);   // e clipped to 0.2: beta * 1.02
        double raised = controller.BetaAt(1);
        controller.Observe(1, observedKl: 0, samples: 10);   // e clipped to -0.2: beta * 0.98
        double lowered = controller.BetaAt(2);

        Assert.Equal(0.102, raised, 12);
        Assert.Equal(0.102 * 0.98, lowered, 12);
    }

    [Fact]
    public void Adaptive_controller_ignores_a_replayed_observation()
    {
        var controller = KlControllers.Create(s_adaptive, Steps);

        controller.Observe(3, observedKl: 5, samples: 10);
        controller.Observe(3, observedKl: 5, samples: 10);

        Assert.Equal(0.102, controller.BetaAt(4), 12);
        Assert.Equal(3, controller.State.LastObservedStep);
    }

    [Theory]
    [InlineData(KlKind.Fixed, "fixed")]
    [InlineData(KlKind.Dynamic, "dynamic")]
    [InlineData(KlKind.Adaptive, "adaptive")]
    public void A_controller_restored_from_its_json_state_continues_where_it_stopped(KlKind kind, string kindName)
    {
        var settings = s_dynamic with { Kind = kind, Beta = 0.05 };
        var original = KlControllers.Create(settings, Steps);
        for (int step = 0; step < 40; step++)
        {
            original.Observe(step, observedKl: step % 3 * 4.0, samples: 256);
        }

        string json = JsonSerializer.Serialize(original.State);
        var restored = KlControllers.Restore(settings, Steps, JsonSerializer.Deserialize<KlControllerState>(json)!);

        Assert.Equal(kindName, restored.Kind);
        Assert.Equal(original.State, restored.State);
        Assert.Equal(original.BetaAt(40), restored.BetaAt(40));
        original.Observe(40, 9.0, 256);
        restored.Observe(40, 9.0, 256);
        Assert.Equal(original.BetaAt(41), restored.BetaAt(41));
    }

    [Fact]
    public void State_reports_the_beta_the_next_step_uses()
    {
        var controller = KlControllers.Create(s_dynamic, Steps);

        controller.Observe(29, 0.1, 8);

        Assert.Equal(new KlControllerState("dynamic", controller.BetaAt(30), 29), controller.State);
        Assert.Equal(0.04, controller.State.CurrentBeta, 12);
    }

    [Fact]
    public void Restoring_a_state_of_another_kind_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(
            () => KlControllers.Restore(s_dynamic, Steps, new KlControllerState("adaptive", 0.1, 5)));

        Assert.Contains("\"adaptive\"", error.Message);
        Assert.Contains("kl.kind = \"dynamic\"", error.Message);
    }

    [Fact]
    public void A_non_finite_observed_kl_is_refused()
    {
        var controller = KlControllers.Create(new KlSettings { Kind = KlKind.Adaptive, Beta = 0.1 }, Steps);

        Assert.Throws<ArgumentOutOfRangeException>(() => controller.Observe(0, double.NaN, 8));
        Assert.Equal(0.1, controller.BetaAt(0));
    }
}
