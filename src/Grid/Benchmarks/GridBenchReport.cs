using Grid.Training.Benchmarks;

namespace Grid.Cli.Benchmarks;

/// <summary>Everything one <c>grid bench</c> run measured; suites that did not run are null.</summary>
public sealed record GridBenchReport(
    DateTimeOffset StartedUtc,
    string Suite,
    PolicyBenchReport? Policy,
    GridTaxBench? GridTax,
    IReadOnlyList<RolloutEngineBench>? RolloutEngine,
    IReadOnlyList<ControlPlaneBench>? ControlPlane,
    LearningBench? Learning = null,
    LoadAverages? PolicyLoadAverage = null,
    AsyncBench? Async = null,
    QwenBench? Qwen = null);

/// <summary>The machine's 1-minute load average before and after a suite: how busy its cores were besides it.</summary>
public sealed record LoadAverages(double Before, double After);
