using Grid.Learning.KlControl;
using Grid.Learning.Tests.Reference;

namespace Grid.Learning.Tests.KlControl;

public sealed class KlScheduleReferenceTests
{
    public static TheoryData<int> ScheduleCases =>
        new(Enumerable.Range(0, ReferenceVectors.Instance.BetaSchedule.Length));

    public static TheoryData<int> AdaptiveCases =>
        new(Enumerable.Range(0, ReferenceVectors.Instance.AdaptiveKl.Length));

    [Theory]
    [MemberData(nameof(ScheduleCases))]
    public void Dynamic_beta_matches_the_reference_schedule(int caseIndex)
    {
        var c = ReferenceVectors.Instance.BetaSchedule[caseIndex];

        double beta = DynamicKlSchedule.Beta(c.Step, c.TotalSteps, c.WarmupFraction, c.BetaMin, c.BetaMax);

        Close.Equal(c.ExpectedBeta, beta,
            $"case {caseIndex}: beta({c.Step}), t={c.TotalSteps}, w/t={c.WarmupFraction}, [{c.BetaMin}, {c.BetaMax}]");
    }

    [Theory]
    [MemberData(nameof(ScheduleCases))]
    public void Dynamic_controller_reads_the_reference_schedule(int caseIndex)
    {
        var c = ReferenceVectors.Instance.BetaSchedule[caseIndex];
        var controller = KlControllers.Create(new KlSettings
        {
            Kind = KlKind.Dynamic,
            WarmupFraction = c.WarmupFraction,
            BetaMin = c.BetaMin,
            BetaMax = c.BetaMax,
        }, c.TotalSteps);

        Close.Equal(c.ExpectedBeta, controller.BetaAt(c.Step), $"case {caseIndex}: controller beta({c.Step})");
    }

    [Theory]
    [MemberData(nameof(AdaptiveCases))]
    public void Adaptive_update_from_the_cases_beta_matches_the_reference(int caseIndex)
    {
        var c = ReferenceVectors.Instance.AdaptiveKl[caseIndex];
        var controller = new AdaptiveKlController(c.Beta, c.TargetKl, c.Horizon);

        controller.Observe(step: 0, c.ObservedKl, c.Samples);

        Close.Equal(c.ExpectedBeta, controller.BetaAt(1), $"case {caseIndex}: beta after KL {c.ObservedKl}");
    }

    [Fact]
    public void Adaptive_controller_chained_through_every_case_follows_the_reference()
    {
        var cases = ReferenceVectors.Instance.AdaptiveKl;
        var controller = KlControllers.Create(new KlSettings
        {
            Kind = KlKind.Adaptive,
            Beta = cases[0].Beta,
            TargetKl = cases[0].TargetKl,
            Horizon = cases[0].Horizon,
        }, totalSteps: cases.Length);

        for (int step = 0; step < cases.Length; step++)
        {
            Close.Equal(cases[step].Beta, controller.BetaAt(step), $"beta used at step {step}");
            controller.Observe(step, cases[step].ObservedKl, cases[step].Samples);
            Close.Equal(cases[step].ExpectedBeta, controller.BetaAt(step + 1), $"beta after step {step}");
        }
    }
}
