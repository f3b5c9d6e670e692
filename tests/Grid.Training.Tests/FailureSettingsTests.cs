using Grid.Core.Settings;
using Grid.Training.Faults;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>
/// The run spec's rollouts and faults sections, and the injector that reads the faults. Their out-of-range values are
/// among the refused settings of <see cref="RunSettingsLoaderTests"/>.
/// </summary>
public sealed class FailureSettingsTests
{
    [Fact]
    public void By_default_attempts_time_out_after_a_minute_three_attempts_are_allowed_and_no_fault_is_injected()
    {
        var settings = RunSettingsLoader.Load();

        Assert.Equal(60, settings.Rollouts.AttemptTimeoutSeconds);
        Assert.Equal(3, settings.Rollouts.MaxAttempts);
        Assert.Equal(120, settings.Rollouts.GroupDeadlineSeconds);
        Assert.Equal(1, settings.Rollouts.WatchdogIntervalSeconds);
        Assert.False(settings.Faults.Enabled);
        Assert.Contains("\"rollouts\"", RunSettingsLoader.ToJson(settings));
        Assert.DoesNotContain("\"enabled\"", RunSettingsLoader.ToJson(settings));
    }

    [Fact]
    public void Backoff_doubles_from_the_initial_wait_up_to_the_maximum()
    {
        var rollouts = new RolloutSettings { BackoffInitialSeconds = 0.5, BackoffMaxSeconds = 3 };

        Assert.Equal([0.5, 1, 2, 3, 3], Enumerable.Range(1, 5).Select(a => rollouts.BackoffAfter(a).TotalSeconds));
        Assert.Equal(3, rollouts.BackoffAfter(10_000).TotalSeconds);
    }

    [Fact]
    public void Generation_faults_that_add_up_to_more_than_every_generation_are_refused()
    {
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load(
            overrides: ["faults.generation_throw_share=0.7", "faults.generation_stall_share=0.5"]));

        Assert.Equal("faults.generation_stall_share", e.Setting);
    }

    [Fact]
    public void Without_faults_the_injector_never_fails_an_attempt()
    {
        var injector = new FaultInjector(new FaultSettings(), seed: 1);

        Assert.All(Enumerable.Range(1, 1000), i => Assert.Equal(InjectedFault.None, injector.Decide($"run/{i}/0", 1)));
    }

    [Fact]
    public void Injected_faults_are_a_pure_function_of_seed_group_and_attempt_and_come_in_the_configured_shares()
    {
        var faults = new FaultSettings { GenerationThrowShare = 0.2, GenerationStallShare = 0.1, VerifierThrowShare = 0.1 };
        var injector = new FaultInjector(faults, seed: 7);
        var draws = Enumerable.Range(0, 20_000).Select(i => injector.Decide($"run/{i / 4}/{i % 4}", 1 + i % 3)).ToArray();

        Assert.Equal(draws, Enumerable.Range(0, 20_000).Select(i => new FaultInjector(faults, 7).Decide($"run/{i / 4}/{i % 4}", 1 + i % 3)));
        Assert.NotEqual(draws, Enumerable.Range(0, 20_000).Select(i => new FaultInjector(faults, 8).Decide($"run/{i / 4}/{i % 4}", 1 + i % 3)));
        double Share(InjectedFault fault) => draws.Count(d => d == fault) / (double)draws.Length;
        // Binomial standard error at n = 20000 is at most 0.0036; 0.015 is over four of them.
        Assert.InRange(Share(InjectedFault.GenerationThrows), 0.185, 0.215);
        Assert.InRange(Share(InjectedFault.GenerationStalls), 0.085, 0.115);
        Assert.InRange(Share(InjectedFault.VerifierThrows), 0.7 * 0.1 - 0.015, 0.7 * 0.1 + 0.015); // of the 70% that generated
    }

    [Fact]
    public void An_injected_fault_says_which_setting_made_it()
    {
        var e = Assert.Throws<InjectedFaultException>(() => FaultInjector.ThrowIfVerifierThrows(InjectedFault.VerifierThrows, "r/0/1", 2));

        Assert.Contains("faults.verifier_throw_share", e.Message);
        Assert.Contains("attempt 2 of group r/0/1", e.Message);
        FaultInjector.ThrowIfGenerationThrows(InjectedFault.VerifierThrows, "r/0/1", 2); // not a generation fault: no throw
    }
}
