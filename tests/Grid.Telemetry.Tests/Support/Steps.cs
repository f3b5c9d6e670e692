using Grid.Core;

namespace Grid.Telemetry.Tests.Support;

/// <summary>Step reports whose every field has a distinct value, so a mixed-up field shows.</summary>
public static class Steps
{
    public static StepMetrics Report(long step, double beta) => new()
    {
        Step = step,
        PolicyVersion = step,
        Beta = beta,
        RewardMean = 0.61,
        RewardStd = 0.27,
        Accuracy = 0.55,
        FormatRate = 0.6,
        ZeroStdGroupFraction = 0.125,
        KlMean = 0.0042,
        Loss = -0.031,
        ClipFraction = 0.07,
        ClipFractionLow = 0.03,
        ClipFractionHigh = 0.04,
        Entropy = 1.9,
        CompletionLengthMean = 23.5,
        CompletionLengthMax = 48,
        GradNorm = 0.88,
        TokensGenerated = 752,
        Groups = 8,
        UpdateSkipped = false,
        StalenessGroups = [6, 2],
        DroppedStaleGroups = 1,
        ImportanceWeightMean = 1.07,
        ImportanceWeightMax = 2.5,
        ImportanceWeightCappedFraction = 0.015,
        LearnerIdleFraction = 0.35,
        SecondsRollout = 1.5,
        SecondsReward = 0.02,
        SecondsReference = 0.3,
        SecondsUpdate = 0.9,
        SecondsPublish = 0.05,
        SecondsTotal = 2.77,
        ProcessRssBytes = 512L * 1024 * 1024,
    };

    /// <summary>A validation of <paramref name="policyVersion"/> with the given accuracy on each task.</summary>
    public static ValidationMetrics Validation(long policyVersion, double counting, double geometry) => new()
    {
        PolicyVersion = policyVersion,
        Prompts = 64,
        Accuracy = new Dictionary<string, double> { ["counting"] = counting, ["geometry"] = geometry },
        FormatRate = new Dictionary<string, double> { ["counting"] = 0.9, ["geometry"] = 0.95 },
    };
}
