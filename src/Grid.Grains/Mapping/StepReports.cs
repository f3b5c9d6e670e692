using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Hosting.Weights;
using Grid.Training.Metrics;

namespace Grid.Grains.Mapping;

/// <summary>StepMetrics (the training library's record) to and from StepReport (the wire record).</summary>
public static class StepReports
{
    public static StepReport From(StepMetrics m, WeightReference? weights, int failedGroups, int samples) => new()
    {
        Step = m.Step,
        PolicyVersion = m.PolicyVersion,
        Beta = m.Beta,
        RewardMean = m.RewardMean,
        RewardStd = m.RewardStd,
        Accuracy = m.Accuracy,
        FormatRate = m.FormatRate,
        ZeroStdGroupFraction = m.ZeroStdGroupFraction,
        KlMean = m.KlMean,
        Loss = m.Loss,
        ClipFraction = m.ClipFraction,
        ClipFractionLow = m.ClipFractionLow,
        ClipFractionHigh = m.ClipFractionHigh,
        Entropy = m.Entropy,
        CompletionLengthMean = m.CompletionLengthMean,
        CompletionLengthMax = m.CompletionLengthMax,
        GradNorm = m.GradNorm,
        TokensGenerated = m.TokensGenerated,
        Groups = m.Groups,
        UpdateSkipped = m.UpdateSkipped,
        SkipReason = m.SkipReason,
        SecondsRollout = m.SecondsRollout,
        SecondsReward = m.SecondsReward,
        SecondsReference = m.SecondsReference,
        SecondsUpdate = m.SecondsUpdate,
        SecondsPublish = m.SecondsPublish,
        SecondsValidation = m.SecondsValidation,
        SecondsTotal = m.SecondsTotal,
        ProcessRssBytes = m.ProcessRssBytes,
        Validation = ToRecord(m.Validation),
        ValidationStart = ToRecord(m.ValidationStart),
        StalenessGroups = [.. m.StalenessGroups],
        DroppedStaleGroups = m.DroppedStaleGroups,
        ImportanceWeightMean = m.ImportanceWeightMean,
        ImportanceWeightMax = m.ImportanceWeightMax,
        ImportanceWeightCappedFraction = m.ImportanceWeightCappedFraction,
        LearnerIdleFraction = m.LearnerIdleFraction,
        FailedGroups = failedGroups,
        Weights = weights,
        Samples = samples,
    };

    public static StepMetrics ToMetrics(StepReport r) => new()
    {
        Step = r.Step,
        PolicyVersion = r.PolicyVersion,
        Beta = r.Beta,
        RewardMean = r.RewardMean,
        RewardStd = r.RewardStd,
        Accuracy = r.Accuracy,
        FormatRate = r.FormatRate,
        ZeroStdGroupFraction = r.ZeroStdGroupFraction,
        KlMean = r.KlMean,
        Loss = r.Loss,
        ClipFraction = r.ClipFraction,
        ClipFractionLow = r.ClipFractionLow,
        ClipFractionHigh = r.ClipFractionHigh,
        Entropy = r.Entropy,
        CompletionLengthMean = r.CompletionLengthMean,
        CompletionLengthMax = r.CompletionLengthMax,
        GradNorm = r.GradNorm,
        TokensGenerated = r.TokensGenerated,
        Groups = r.Groups,
        UpdateSkipped = r.UpdateSkipped,
        SkipReason = r.SkipReason,
        SecondsRollout = r.SecondsRollout,
        SecondsReward = r.SecondsReward,
        SecondsReference = r.SecondsReference,
        SecondsUpdate = r.SecondsUpdate,
        SecondsPublish = r.SecondsPublish,
        SecondsValidation = r.SecondsValidation,
        SecondsTotal = r.SecondsTotal,
        ProcessRssBytes = r.ProcessRssBytes,
        StalenessGroups = r.StalenessGroups ?? [],
        DroppedStaleGroups = r.DroppedStaleGroups,
        ImportanceWeightMean = r.ImportanceWeightMean,
        ImportanceWeightMax = r.ImportanceWeightMax,
        ImportanceWeightCappedFraction = r.ImportanceWeightCappedFraction,
        LearnerIdleFraction = r.LearnerIdleFraction,
        Validation = ToMetrics(r.Validation),
        ValidationStart = ToMetrics(r.ValidationStart),
    };

    private static ValidationRecord? ToRecord(ValidationMetrics? v) => v is null ? null : new()
    {
        PolicyVersion = v.PolicyVersion,
        Prompts = v.Prompts,
        Tasks = v.Accuracy.Select(a => new ValidationTaskScore(a.Key, a.Value, v.FormatRate[a.Key])).ToArray(),
    };

    private static ValidationMetrics? ToMetrics(ValidationRecord? v) => v is null ? null : new()
    {
        PolicyVersion = v.PolicyVersion,
        Prompts = v.Prompts,
        Accuracy = v.Tasks.ToDictionary(t => t.Task, t => t.Accuracy),
        FormatRate = v.Tasks.ToDictionary(t => t.Task, t => t.FormatRate),
    };
}
